import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { admissionEvent, finding } from '@portcullis/testing';
import { compileRules, matchBatch, readAlertRuleJob, type AlertRuleRecord } from '@portcullis/alert-rules';

const source = { tenantId: randomUUID(), clusterId: randomUUID(), cloudScopeId: randomUUID() };
const POLICY = randomUUID();

function rule(overrides: Partial<AlertRuleRecord> = {}): AlertRuleRecord {
  return {
    id: randomUUID(),
    tenantId: source.tenantId,
    name: 'r',
    kind: 'BLOCK_DENIAL',
    severity: 'HIGH',
    enabled: true,
    cloudScopeIds: [],
    clusterIds: [],
    namespacePatterns: [],
    policyIds: [],
    ruleIds: [],
    decisions: [],
    thresholdMinutes: null,
    readyAfterDays: 7,
    digestSeconds: 60,
    destinationIds: [randomUUID()],
    ...overrides,
  };
}

const block = (ruleId = 'privileged-container', extra = {}) => finding(POLICY, ruleId, { action: 'BLOCK', ...extra });
const denied = (overrides: Record<string, unknown> = {}) =>
  admissionEvent({ decision: 'DENIED', findings: [block()], ...overrides });

describe('alert rule matching', () => {
  it('BLOCK_DENIAL: non-dry-run denials through a Block finding that is not exempted', () => {
    const rules = compileRules([rule()]);
    const events = [
      denied(),
      denied({ dryRun: true }),
      admissionEvent({
        decision: 'DENIED',
        findings: [block('privileged-container', { exempted: true, exemptionId: 'x' })],
      }),
      admissionEvent({ decision: 'AUDITED', findings: [finding(POLICY, 'privileged-container')] }),
    ];
    const out = matchBatch(rules, source, events);
    assert.deepEqual(
      out.map((c) => c.e),
      [events[0]!.eventId],
    );
    assert.equal(out[0]!.x, 'BLOCK_DENIAL');
  });

  it('applies every filter, namespaces through globs', () => {
    const cases: Array<[Partial<AlertRuleRecord>, boolean]> = [
      [{ namespacePatterns: ['sh?p'] }, true],
      [{ namespacePatterns: ['prod-*'] }, false],
      [{ clusterIds: [source.clusterId.toUpperCase()] }, true],
      [{ clusterIds: [randomUUID()] }, false],
      [{ cloudScopeIds: [randomUUID()] }, false],
      [{ policyIds: [randomUUID()] }, false],
      [{ policyIds: [POLICY] }, true],
      [{ ruleIds: ['capabilities'] }, false],
      [{ decisions: ['AUDITED'] }, false],
      [{ decisions: ['DENIED'] }, true],
    ];
    for (const [filters, expected] of cases) {
      const out = matchBatch(compileRules([rule(filters)]), source, [denied({ namespace: 'shop' })]);
      assert.equal(out.length, expected ? 1 : 0, JSON.stringify(filters));
    }
  });

  it('a pathological namespace pattern stays linear', () => {
    const rules = compileRules([rule({ namespacePatterns: ['*a*a*a*a*a*a*a*a*a*a*a*a*b'] })]);
    const out = matchBatch(rules, source, [denied({ namespace: 'a'.repeat(63) })]);
    assert.equal(out.length, 0);
  });

  it('FIRST_WOULD_DENY: one candidate per workload, policy and rule of a batch, Audit findings only', () => {
    const rules = compileRules([rule({ kind: 'FIRST_WOULD_DENY' })]);
    const replica = () =>
      admissionEvent({
        decision: 'AUDITED',
        findings: [finding(POLICY, 'privileged-container'), finding(POLICY, 'capabilities'), block('host-namespaces')],
      });
    const out = matchBatch(rules, source, Array.from({ length: 50 }, replica));
    assert.deepEqual(out.map((c) => c.r).sort(), ['capabilities', 'privileged-container']);
  });

  it('only the given indexes of a batch, and nothing for rules of other kinds', () => {
    const events = [denied(), denied()];
    assert.equal(matchBatch(compileRules([rule()]), source, events, [1])[0]!.e, events[1]!.eventId);
    assert.deepEqual(matchBatch(compileRules([rule({ kind: 'AGENT_SILENT' })]), source, events), []);
  });

  it('a job payload is checked before use', () => {
    assert.equal(readAlertRuleJob('nope', {}).ok, false);
    const bad = readAlertRuleJob('evaluate-batch', { ...source, candidates: [{ a: 1 }] });
    assert.equal(bad.ok, false);
    assert.match((bad as { reason: string }).reason, /candidates\[0\]\.a/);
    const candidates = matchBatch(compileRules([rule()]), source, [denied()]);
    assert.equal(readAlertRuleJob('evaluate-batch', { ...source, candidates }).ok, true);
  });
});
