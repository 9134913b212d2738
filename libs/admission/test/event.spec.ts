import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EVENT_LIMITS, decisionFor } from '@portcullis/contracts';
import type { Violation } from '@portcullis/policy-engine';
import { resolveOwner, toFindings } from '@portcullis/admission';

const violation = (o: Partial<Violation>): Violation => ({
  policy: 'p',
  policyId: 'p1',
  rule: 'resource-limits',
  action: 'AUDIT',
  path: 'spec',
  message: 'set limits',
  exempted: false,
  ...o,
});

describe('admission events', () => {
  it("past the contract's bound of findings, the deciding ones are kept: the decision stays what the engine decided", () => {
    const many = [
      ...Array.from({ length: EVENT_LIMITS.findings + 5 }, () => violation({})),
      violation({ action: 'BLOCK', rule: 'privileged-container' }),
    ];
    const findings = toFindings(many, new Map());
    assert.equal(findings.length, EVENT_LIMITS.findings);
    assert.equal(findings[0]!.ruleId, 'privileged-container');
    assert.equal(decisionFor(findings), 'DENIED');
  });

  it('a rule that crashed in a Block policy is recorded as Audit (the engine never denies on it)', () => {
    const [f] = toFindings([violation({ action: 'BLOCK', reason: 'RULE_ERROR' })], new Map());
    assert.equal(f!.action, 'AUDIT');
  });

  it('owners: a ReplicaSet pod belongs to its Deployment, a Job pod to its CronJob, anything else to its controller or itself', () => {
    const pod = (kind: string, name: string, labels: Record<string, string> = {}) => ({
      metadata: { name: 'x', labels, ownerReferences: [{ kind, name, controller: true }] },
    });
    assert.deepEqual(
      resolveOwner(pod('ReplicaSet', 'web-7d9f8c6b5', { 'pod-template-hash': '7d9f8c6b5' }), 'Pod', 'x'),
      { kind: 'Deployment', name: 'web' },
    );
    assert.deepEqual(resolveOwner(pod('Job', 'backup-29012345'), 'Pod', 'x'), { kind: 'CronJob', name: 'backup' });
    assert.deepEqual(resolveOwner(pod('StatefulSet', 'db'), 'Pod', 'x'), { kind: 'StatefulSet', name: 'db' });
    assert.deepEqual(resolveOwner({ metadata: { generateName: 'web-' } }, 'Pod', ''), { kind: 'Pod', name: 'web-' });
  });
});
