import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateAdmissionEvent, validateAdmissionEventBatch } from '@portcullis/contracts';
import { FIXTURE_POLICY_ID, admissionEvent, finding } from '@portcullis/testing';

describe('the AdmissionEvent fixture builder', () => {
  it('builds an event the contract accepts unchanged, with or without findings', () => {
    for (const e of [
      admissionEvent(),
      admissionEvent({
        decision: 'AUDITED',
        findings: [finding(), finding('5d0c7a52-2f1e-4b8a-9c3d-0000000000aa', 'resource-limits')],
      }),
    ]) {
      const r = validateAdmissionEvent(JSON.parse(JSON.stringify(e)));
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual(r.value, e);
    }
  });

  it('gives every event its own id, so a batch of them is no batch of duplicates', () => {
    const events = Array.from({ length: 50 }, () => admissionEvent());
    assert.equal(new Set(events.map((e) => e.eventId)).size, 50);
    assert.ok(validateAdmissionEventBatch({ events }).ok);
  });

  it('overrides replace fields, and may set values the contract refuses (tests of refusals)', () => {
    const e = admissionEvent({ namespace: 'payments', bundleRevision: null });
    assert.equal(e.namespace, 'payments');
    assert.equal(e.bundleRevision, null);
    const bad = validateAdmissionEvent(admissionEvent({ eventId: 'evt-1' }));
    assert.equal(bad.ok, false);
  });

  it('finding(policyId, ruleId, overrides) and finding(overrides) describe the same finding', () => {
    assert.deepEqual(
      finding('p-1', 'host-namespaces', { action: 'BLOCK' }),
      finding({ policyId: 'p-1', ruleId: 'host-namespaces', action: 'BLOCK' }),
    );
    assert.equal(finding().policyId, FIXTURE_POLICY_ID);
    assert.match(finding({ ruleId: 'run-as-non-root' }).message, /run-as-non-root/);
  });
});
