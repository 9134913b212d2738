import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { AGENT_NODE_FLAGS, API_NODE_FLAGS, repoPath } from '@portcullis/config';

describe('agent node flags', () => {
  it('the image starts the agent with the flags the tests and the webhook bench use', () => {
    const dockerfile = fs.readFileSync(repoPath('apps', 'agent', 'Dockerfile'), 'utf8');
    const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile);
    assert.ok(entrypoint, 'apps/agent/Dockerfile has no exec-form ENTRYPOINT');
    const argv = JSON.parse(entrypoint[1]!) as string[];
    const script = argv.indexOf('dist/apps/agent/src/main.js');
    assert.ok(script > 0, `the ENTRYPOINT does not run dist/apps/agent/src/main.js: ${entrypoint[1]}`);
    assert.deepEqual(
      argv.slice(1, script),
      [...AGENT_NODE_FLAGS],
      "the ENTRYPOINT's node flags differ from AGENT_NODE_FLAGS",
    );
  });
});

describe('API node flags', () => {
  it('the benches run with the flags the launcher gives the API (they embed the API)', () => {
    const scripts = (
      JSON.parse(fs.readFileSync(repoPath('package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    const bench = scripts['bench'] ?? '';
    for (const flag of API_NODE_FLAGS)
      assert.ok(
        bench.includes(`node ${flag} `) || bench.includes(` ${flag} `),
        `package.json "bench" lacks ${flag}: ${bench}`,
      );
  });
});
