import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { repoPath } from '@portcullis/config';
import { workspace } from './support';

// Issue 21, finding 1: `portcullis eval` with this namespace include and a 60-character
// namespace ran past 5 s (a backtracking regular expression). The CLI runs as its own
// process here, so on the old code this test fails at the runner's per-test timeout
// (the child is killed with the test's signal) instead of freezing the test process.
const CRAFTED = '*a*a*a*a*a*a*a*a*a*a*a*a*b';
const NAMESPACE = 'a'.repeat(60);
const NAME = 'a'.repeat(200);

const POLICY = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: crafted-scope }
spec:
  type: MISCONFIGURATION
  action: BLOCK
  scope: { namespaces: { include: ["${CRAFTED}"] } }
  rules: [{ id: privileged-container }]
---
apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: crafted-exemption }
spec:
  type: MISCONFIGURATION
  action: BLOCK
  rules: [{ id: privileged-container }]
  exemptions: [{ match: GLOB, names: ["${CRAFTED}"], namespaces: ["${CRAFTED}"], reason: crafted, grantedBy: test }]
`;

const POD = `apiVersion: v1
kind: Pod
metadata: { name: ${NAME}, namespace: ${NAMESPACE} }
spec:
  containers:
    - name: c
      image: docker.io/${'a'.repeat(200)}:1
      securityContext: { privileged: true }
`;

function spawnEval(
  args: string[],
  cwd: string,
  signal: AbortSignal,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [repoPath('apps', 'cli', 'bin', 'portcullis.js'), 'eval', ...args],
      { cwd, signal, env: { PATH: process.env['PATH'] ?? '' }, encoding: 'utf8' },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
      },
    );
  });
}

describe('portcullis eval with crafted patterns (issue 21)', () => {
  it(`namespace include ${CRAFTED} and a 60-character namespace, exemption globs against a 200-character pod name: answered`, async (t) => {
    const cwd = workspace({ 'policy.yaml': POLICY, 'pod.yaml': POD });
    const run = await spawnEval(['-p', 'policy.yaml', '--format', 'json', 'pod.yaml'], cwd, t.signal);
    assert.equal(run.code, 1, run.stderr);
    const report = JSON.parse(run.stdout) as {
      results: Array<{
        namespace: string;
        name: string;
        decision: string;
        violations: Array<{ policy: string; exempted?: boolean }>;
      }>;
    };
    const [result] = report.results;
    assert.deepEqual([result!.namespace, result!.name, result!.decision], [NAMESPACE, NAME, 'deny']);
    // the scoped policy does not apply (no "b" at the end); the exemption does not match
    assert.deepEqual(
      result!.violations.map((v) => [v.policy, v.exempted === true]),
      [['crafted-exemption', false]],
    );
  });
});
