import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { repoPath } from '@portcullis/config';
import { namespaceForFile } from '../src/demo/fleet';
import { freePort } from './support/stack';

function demo(args: string[], env: Record<string, string> = {}) {
  const res = spawnSync(process.execPath, [repoPath('apps', 'cli', 'bin', 'portcullis.js'), 'demo', ...args], {
    encoding: 'utf8',
    env: { ...process.env, NODE_ENV: 'development', ...env },
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('portcullis demo: refusals before anything is created', () => {
  it('refuses in production: it mints tokens from the development issuer', () => {
    const r = demo([], { NODE_ENV: 'production' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /refused: the demo mints tokens from the development issuer/);
    assert.equal(r.stdout, '');
  });

  it('names a bad flag value, and prints nothing on stdout', () => {
    for (const [args, message] of [
      [['--days', '2'], /--days "2" must be a whole number from 3 to 30/],
      [['--days', '1e1'], /--days "1e1"/],
      [['--api', 'ftp://x'], /--api "ftp:\/\/x" is not an http\(s\) URL/],
      [['--colour', 'red'], /colour/],
    ] as const) {
      const r = demo([...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
  });

  it('says where the API should be when nothing answers there', async () => {
    const port = await freePort();
    const r = demo(['--api', `http://127.0.0.1:${port}`]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      new RegExp(`the API at http://127\\.0\\.0\\.1:${port} does not answer .*start it with \`npm start\``),
    );
    assert.equal(r.stdout, '');
  });

  it('names namespaces after the application in a manifest file name', () => {
    assert.equal(namespaceForFile('online-boutique-kubernetes-manifests.yaml'), 'online-boutique');
    assert.equal(namespaceForFile('argo-cd-v3.5.1-install.yaml'), 'argo-cd');
    assert.equal(namespaceForFile('kubernetes-dashboard-v2.7.0-recommended.yaml'), 'kubernetes-dashboard');
    assert.equal(namespaceForFile('shop.yaml'), 'shop');
  });
});
