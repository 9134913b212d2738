/**
 * The tenant's "keep this many days" settings through GraphQL — the admission inventory's
 * retention and the scan-artifact history: read by any reader, set by tenant-level admins
 * only, bounds refused naming the field with nothing changed, every change audited.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { data } from '../inventory/support';
import { NO_DB_REASON, onlyError, startApi, testDatabaseConfigured, type ApiHarness } from '@portcullis/testing';

const SETTINGS = [
  {
    query: 'admissionRetention',
    mutation: 'setAdmissionRetention',
    action: 'admissionRetention.update',
    column: 'admissionRetentionDays',
    max: 400,
  },
  {
    query: 'scanArtifactHistory',
    mutation: 'setScanArtifactHistory',
    action: 'scanArtifactHistory.update',
    column: 'scanHistoryDays',
    max: 3650,
  },
] as const;

for (const setting of SETTINGS) {
  describe(`tenant setting ${setting.query}`, { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
    let h: ApiHarness;
    let t: { tenantId: string; ownerToken: string };
    let other: { tenantId: string; ownerToken: string };

    before(async () => {
      h = await startApi();
      t = await h.onboard(`${setting.query}`);
      other = await h.onboard(`${setting.query} other`);
    });
    after(async () => h?.close());

    const stored = async (tenantId: string) =>
      (await h.prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } }))[setting.column];
    const set = (token: string, days: number) =>
      h.gql<Record<string, { days: number }>>(token, `mutation { ${setting.mutation}(days: ${days}) { days } }`);
    const auditEntries = async () =>
      data(
        await h.gql<{ auditLog: { edges: Array<{ node: { targetId: string; before: unknown; after: unknown } }> } }>(
          t.ownerToken,
          `{ auditLog(filter: { action: "${setting.action}" }) { edges { node { targetId before after } } } }`,
        ),
      ).auditLog.edges.map((e) => e.node);

    it('reads the default, and a reader of the tenant sees it', async () => {
      const reader = randomUUID();
      data(
        await h.gql(t.ownerToken, 'mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }', {
          i: { principalId: reader, role: 'SECURITY_READER' },
        }),
      );
      const seen = data(
        await h.gql<Record<string, { days: number }>>(
          await h.token(t.tenantId, reader),
          `{ ${setting.query} { days } }`,
        ),
      );
      assert.deepEqual(seen, { [setting.query]: { days: 30 } });
    });

    it('an owner sets it: stored on the tenant, audited with before and after, the other tenant untouched', async () => {
      assert.equal(data(await set(t.ownerToken, 7))[setting.mutation]!.days, 7);
      assert.equal(await stored(t.tenantId), 7);
      assert.equal(await stored(other.tenantId), 30);
      assert.deepEqual(await auditEntries(), [{ targetId: t.tenantId, before: { days: 30 }, after: { days: 7 } }]);
      // setting the same value again changes nothing and writes no audit entry
      data(await set(t.ownerToken, 7));
      assert.equal((await auditEntries()).length, 1);
    });

    it('out of bounds is refused naming days, and nothing changes', async () => {
      for (const days of [0, -3, setting.max + 1]) {
        const e = onlyError(await set(t.ownerToken, days));
        assert.equal(e.code, 'BAD_USER_INPUT', `${days}: ${e.message}`);
        assert.equal(e.field, 'days', `${days}: ${e.message}`);
        assert.match(e.message, new RegExp(`days must be at (least 1|most ${setting.max})`));
      }
      assert.equal(await stored(t.tenantId), 7);
      // the upper bound itself is accepted
      assert.equal(data(await set(t.ownerToken, setting.max))[setting.mutation]!.days, setting.max);
      data(await set(t.ownerToken, 7));
    });

    it('a cloud-scope admin or a reader cannot set it', async () => {
      const scope = data(
        await h.gql<{ createCloudScope: { id: string } }>(
          t.ownerToken,
          'mutation { createCloudScope(input: { provider: AZURE_SUBSCRIPTION, externalId: "0f9b2a51-7c1e-4a57-9d3e-2b8f6c4d1e70", displayName: "r" }) { id } }',
        ),
      ).createCloudScope;
      const scopedAdmin = randomUUID();
      const reader = randomUUID();
      data(
        await h.gql(t.ownerToken, 'mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }', {
          i: { principalId: scopedAdmin, role: 'SECURITY_ADMIN', cloudScopeId: scope.id },
        }),
      );
      data(
        await h.gql(t.ownerToken, 'mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }', {
          i: { principalId: reader, role: 'SECURITY_READER' },
        }),
      );
      for (const who of [scopedAdmin, reader]) {
        const e = onlyError(await set(await h.token(t.tenantId, who), 90));
        assert.equal(e.code, 'FORBIDDEN');
      }
      assert.equal(await stored(t.tenantId), 7);
    });
  });
}
