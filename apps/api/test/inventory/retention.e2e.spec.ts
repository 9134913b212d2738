/**
 * The tenant's admission retention through GraphQL: read by any reader, set by tenant-level
 * admins only, bounds refused naming the field with nothing changed, every change audited.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { onlyError, NO_DB_REASON, startApi, testDatabaseConfigured, type ApiHarness } from '../support/harness';
import { data } from './support';

describe('admission retention', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let t: { tenantId: string; ownerToken: string };
  let other: { tenantId: string; ownerToken: string };

  before(async () => {
    h = await startApi();
    t = await h.onboard('retention');
    other = await h.onboard('retention other');
  });
  after(async () => h?.close());

  const stored = async (tenantId: string) => (await h.prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } })).admissionRetentionDays;

  it('reads the default, and a reader of the tenant sees it', async () => {
    const reader = randomUUID();
    data(await h.gql(t.ownerToken, 'mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }', { i: { principalId: reader, role: 'SECURITY_READER' } }));
    const seen = data(await h.gql<{ admissionRetention: { days: number } }>(await h.token(t.tenantId, reader), '{ admissionRetention { days } }'));
    assert.deepEqual(seen, { admissionRetention: { days: 30 } });
  });

  it('an owner sets it: stored on the tenant, audited with before and after, the other tenant untouched', async () => {
    const set = data(await h.gql<{ setAdmissionRetention: { days: number } }>(t.ownerToken, 'mutation { setAdmissionRetention(days: 7) { days } }'));
    assert.equal(set.setAdmissionRetention.days, 7);
    assert.equal(await stored(t.tenantId), 7);
    assert.equal(await stored(other.tenantId), 30);
    const log = data(await h.gql<{ auditLog: { edges: Array<{ node: { targetId: string; before: unknown; after: unknown } }> } }>(
      t.ownerToken,
      '{ auditLog(filter: { action: "admissionRetention.update" }) { edges { node { targetId before after } } } }',
    ));
    assert.deepEqual(log.auditLog.edges.map((e) => e.node), [{ targetId: t.tenantId, before: { days: 30 }, after: { days: 7 } }]);
    // setting the same value again changes nothing and writes no audit entry
    data(await h.gql(t.ownerToken, 'mutation { setAdmissionRetention(days: 7) { days } }'));
    const again = data(await h.gql<{ auditLog: { edges: unknown[] } }>(t.ownerToken, '{ auditLog(filter: { action: "admissionRetention.update" }) { edges { node { id } } } }'));
    assert.equal(again.auditLog.edges.length, 1);
  });

  it('out of bounds is refused naming days, and nothing changes', async () => {
    for (const days of [0, -3, 401]) {
      const e = onlyError(await h.gql(t.ownerToken, `mutation { setAdmissionRetention(days: ${days}) { days } }`));
      assert.equal(e.code, 'BAD_USER_INPUT', `${days}: ${e.message}`);
      assert.equal(e.field, 'days', `${days}: ${e.message}`);
      assert.match(e.message, /days must be at (least 1|most 400)/);
    }
    assert.equal(await stored(t.tenantId), 7);
  });

  it('a cloud-scope admin or a reader cannot set it', async () => {
    const scope = data(await h.gql<{ createCloudScope: { id: string } }>(t.ownerToken, 'mutation { createCloudScope(input: { provider: AZURE_SUBSCRIPTION, externalId: "0f9b2a51-7c1e-4a57-9d3e-2b8f6c4d1e70", displayName: "r" }) { id } }')).createCloudScope;
    const scopedAdmin = randomUUID();
    const reader = randomUUID();
    data(await h.gql(t.ownerToken, 'mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }', { i: { principalId: scopedAdmin, role: 'SECURITY_ADMIN', cloudScopeId: scope.id } }));
    data(await h.gql(t.ownerToken, 'mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }', { i: { principalId: reader, role: 'SECURITY_READER' } }));
    for (const who of [scopedAdmin, reader]) {
      const e = onlyError(await h.gql(await h.token(t.tenantId, who), 'mutation { setAdmissionRetention(days: 90) { days } }'));
      assert.equal(e.code, 'FORBIDDEN');
    }
    assert.equal(await stored(t.tenantId), 7);
  });
});
