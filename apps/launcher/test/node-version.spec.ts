/**
 * One Node.js version everywhere: .nvmrc names it, and everything that installs, builds or
 * runs Portcullis states the same one (or its major line where only that exists, as for the
 * distroless image). Changing Node means changing all of them; this test names what lags.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { repoPath } from '@portcullis/config';

const read = (...parts: string[]) => fs.readFileSync(repoPath(...parts), 'utf8');
const version = read('.nvmrc').trim();
const major = version.split('.')[0]!;
const fromLines = (dockerfile: string) =>
  [...read(...dockerfile.split('/')).matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]!);

describe('the Node.js version', () => {
  it('.nvmrc holds one exact version', () => {
    assert.match(version, /^\d+\.\d+\.\d+$/);
  });

  it('package.json and its lock require that line from that version on, with types of the same major', () => {
    const pkg = JSON.parse(read('package.json')) as {
      engines: { node: string };
      devDependencies: Record<string, string>;
    };
    assert.equal(pkg.engines.node, `^${version}`);
    const lock = JSON.parse(read('package-lock.json')) as {
      packages: Record<string, { engines?: { node?: string }; version?: string }>;
    };
    assert.equal(lock.packages['']?.engines?.node, `^${version}`, 'package-lock.json: run npm install');
    assert.equal(lock.packages['node_modules/@types/node']?.version?.split('.')[0], major, '@types/node in the lock');
    assert.match(pkg.devDependencies['@types/node'] ?? '', new RegExp(`^\\^${major}\\.`));
  });

  it('.ci/node.sh pins the tarball of that version for each architecture it fetches', () => {
    const script = read('.ci', 'node.sh');
    for (const arch of ['x64', 'arm64'])
      assert.match(
        script,
        new RegExp(`^\\s*${version.replace(/\./g, '\\.')}-${arch}\\) echo 'sha512-[A-Za-z0-9+/=]{88}'`, 'm'),
        arch,
      );
    assert.match(read('.ci', 'run'), /^\. \.ci\/node\.sh$/m, '.ci/run runs everything with it');
  });

  it('both images build on that version, and the agent runs on distroless Node of that line and Debian release', () => {
    assert.deepEqual(fromLines('apps/api/Dockerfile'), [`node:${version}-trixie-slim`, `node:${version}-trixie-slim`]);
    // trixie is Debian 13: the agent is built against the libc it runs with
    assert.deepEqual(fromLines('apps/agent/Dockerfile'), [
      `node:${version}-trixie-slim`,
      `gcr.io/distroless/nodejs${major}-debian13:nonroot`,
    ]);
    const compose = YAML.parse(read('docker-compose.yml')) as {
      services: Record<string, { build?: { dockerfile?: string } }>;
    };
    assert.equal(
      compose.services['portcullis']?.build?.dockerfile,
      'apps/api/Dockerfile',
      'docker compose runs the API image',
    );
  });

  it('the README names that version, and the agent docs tag the image as the chart pulls it', () => {
    const readme = read('README.md');
    const agentDocs = read('docs', 'agent.md');
    assert.match(readme, new RegExp(`Prerequisites: Node ${version.replace(/\./g, '\\.')}`));
    const values = YAML.parse(read('deploy', 'helm', 'portcullis-agent', 'values.yaml')) as {
      image: { repository: string; tag: string };
    };
    const image = `${values.image.repository}:${values.image.tag}`;
    assert.ok(agentDocs.includes(`-t ${image} `), `docs/agent.md builds the agent image as ${image}`);
    assert.ok(
      read('apps', 'agent', 'Dockerfile').includes(`-t ${image} `),
      `apps/agent/Dockerfile's build line tags ${image}`,
    );
    const chart = YAML.parse(read('deploy', 'helm', 'portcullis-agent', 'Chart.yaml')) as { appVersion: string };
    assert.equal(values.image.tag, chart.appVersion, 'the chart runs its own appVersion');
  });
});
