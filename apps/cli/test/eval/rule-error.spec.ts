/**
 * A Block policy whose rule crashes (RULE_ERROR): the engine allows, so the exit code, the
 * JSON summary, JUnit, text and SARIF must all say "not blocking". Rules are robust to any
 * input (the engine's property tests), so the crash is injected into the rule itself, the
 * way a bug in a rule would surface.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { repoPath } from '@portcullis/config';
import { HARDENED, parseJson, portcullis, workspace } from './support';

interface RuleImplLike {
  definition: { id: string };
  compile: (params: unknown) => unknown;
}

const POLICY = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: strict }
spec:
  type: MISCONFIGURATION
  action: BLOCK
  rules: [{ id: privileged-container }]
---
apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: hygiene }
spec:
  type: MISCONFIGURATION
  action: AUDIT
  rules: [{ id: privileged-container }]
`;
const PRIVILEGED_POD = `apiVersion: v1
kind: Pod
metadata: { name: debug, namespace: shop }
spec:
  containers:
    - { name: sh, image: busybox:1.36, securityContext: { privileged: true } }
`;

describe('eval: a Block rule that crashes does not block, in every format', () => {
  let rule: RuleImplLike;
  let original: RuleImplLike['compile'];
  const cwd = workspace({ 'policy.yaml': POLICY, 'k8s/pod.yaml': PRIVILEGED_POD, 'k8s/web.yaml': HARDENED });
  const crash = () => {
    rule.compile = () => () => {
      throw new Error('injected rule bug');
    };
  };
  before(async () => {
    // the catalog module the CLI evaluates with (one module instance per process)
    const catalog = (await import(repoPath('dist', 'libs', 'policy-engine', 'src', 'rules', 'catalog.js'))) as {
      RULES: RuleImplLike[];
    };
    rule = catalog.RULES.find((r) => r.definition.id === 'privileged-container')!;
    original = rule.compile;
  });
  after(() => {
    rule.compile = original;
  });
  const run = (format: string) => portcullis(['eval', '-p', 'policy.yaml', '--format', format, 'k8s'], { cwd });

  it('control: the same rule working denies, and every format counts it as blocking', async () => {
    rule.compile = original;
    const json = await run('json');
    assert.equal(json.code, 1, json.stderr);
    assert.equal(parseJson(json).summary['blocking'], 1);
    assert.match((await run('junit')).stdout, /<testsuite name="k8s\/pod.yaml" tests="1" failures="1"/);
  });

  it('json: exit 0, decision allow, blocking 0, the crash reported as a rule error', async () => {
    crash();
    const json = await run('json');
    assert.equal(json.code, 0, json.stderr);
    const report = parseJson(json);
    const pod = report.results.find((r) => r.kind === 'Pod')!;
    assert.equal(pod.decision, 'allow');
    assert.deepEqual(
      pod.violations.map((v) => [v.policy, v.action, (v as { reason?: string }).reason]),
      [
        ['strict', 'BLOCK', 'RULE_ERROR'],
        ['hygiene', 'AUDIT', 'RULE_ERROR'],
      ],
    );
    assert.deepEqual(
      [report.summary['denied'], report.summary['blocking'], report.summary['audit'], report.summary['ruleErrors']],
      [0, 0, 0, 4],
      'the hardened Deployment crashes the rule too',
    );
  });

  it('junit: no failure, the crash in the log', async () => {
    crash();
    const junit = await run('junit');
    assert.equal(junit.code, 0);
    assert.doesNotMatch(junit.stdout, /<failure/);
    assert.match(junit.stdout, /<testsuite name="k8s\/pod.yaml" tests="1" failures="0"/);
    assert.match(
      junit.stdout,
      /<system-out>\[BLOCK, RULE_ERROR\] strict \/ privileged-container: rule privileged-container could not evaluate this object: injected rule bug/,
    );
  });

  it('text and sarif: not marked blocking, a warning', async () => {
    crash();
    const text = await run('text');
    assert.equal(text.code, 0);
    assert.match(
      text.stdout,
      /k8s\/pod.yaml#1 Pod shop\/debug: ALLOW\n {2}! \[BLOCK, RULE_ERROR\] strict \/ privileged-container: /,
    );
    assert.match(
      text.stdout.trimEnd().split('\n').at(-1)!,
      /^2 objects: 0 denied, 2 allowed; 0 blocking, 0 audit, 0 exempted violations; 4 from rules that failed \(not blocking\)$/,
    );
    const sarif = JSON.parse((await run('sarif')).stdout) as { runs: Array<{ results: Array<{ level: string }> }> };
    assert.ok(sarif.runs[0]!.results.length === 4 && sarif.runs[0]!.results.every((r) => r.level === 'warning'));
  });
});
