import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { repoPath } from '@portcullis/config';
import { HARDENED, PRIVILEGED, workspace } from './support';

/** `npx portcullis eval ...` as a pipeline runs it: a real process, its exit code, its stdin. */
function spawnEval(args: string[], cwd: string, input = '') {
  const res = spawnSync(process.execPath, [repoPath('apps', 'cli', 'bin', 'portcullis.js'), 'eval', ...args], {
    cwd,
    input,
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '' },
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('portcullis eval as a process', () => {
  const cwd = workspace({ 'ok.yaml': HARDENED, 'bad.yaml': PRIVILEGED, 'broken.yaml': 'kind: [\n' });
  it('exits 0 when nothing would be denied', () => {
    const r = spawnEval(['ok.yaml'], cwd);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1 objects: 0 denied, 1 allowed/);
  });
  it('exits 1 on a blocking violation, reading the manifest from stdin', () => {
    const r = spawnEval(['--format', 'json', '-'], cwd, PRIVILEGED);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as { results: Array<{ source: string; decision: string }> };
    assert.deepEqual(
      report.results.map((x) => [x.source, x.decision]),
      [['-', 'deny']],
    );
  });
  it('exits 2 on an input error, naming file and document on stderr', () => {
    const r = spawnEval(['ok.yaml', 'broken.yaml'], cwd);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^portcullis eval: broken.yaml: document 1: line 1: /);
    assert.equal(r.stdout, '');
  });
});
