/**
 * BundleCompiler against the real database: unchanged content is not re-signed,
 * a bundle nearing expiry is re-signed under a new revision with the same content,
 * a change nobody announced is repaired by the reconcile pass, and every stored
 * revision is announced.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey, verifyBundle, type BundleDocument } from '@portcullis/bundle';
import { BundleCompiler } from '@portcullis/distribution';
import { NO_DB_REASON, startApi, testDatabaseConfigured, type ApiHarness } from '@portcullis/testing';

const HOUR = 3_600_000;

describe('bundle compiler', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let tenantId: string;
  let clusterIds: string[];
  const key = generateSigningKey();
  let now = new Date('2026-11-23T12:00:00Z');
  const announced: Array<readonly [string, number]> = [];
  let compiler: BundleCompiler;

  before(async () => {
    h = await startApi();
    const t = await h.onboard('Compiler');
    tenantId = t.tenantId;
    const scope = await h.prisma.cloudScope.create({
      data: { tenantId, provider: 'AWS_ACCOUNT', externalId: '210987654321', displayName: 'compiler' },
    });
    clusterIds = [randomUUID(), randomUUID(), randomUUID()];
    await h.prisma.cluster.createMany({
      data: clusterIds.map((id, i) => ({
        id,
        tenantId,
        cloudScopeId: scope.id,
        name: `k-${i}`,
        distribution: 'EKS' as const,
        agentTokenId: randomUUID().replace(/-/g, ''),
        agentTokenHash: '0'.repeat(64),
      })),
    });
    compiler = new BundleCompiler(
      h.prisma,
      () => key,
      async (r) => void announced.push(...r),
      { ttlMs: 24 * HOUR, renewBeforeMs: 12 * HOUR, chunkSize: 2 },
      () => now,
    );
  });
  after(async () => {
    await h?.close();
  });

  async function revisions(): Promise<number[]> {
    const rows = await h.prisma.cluster.findMany({
      where: { tenantId },
      orderBy: { name: 'asc' },
      select: { bundleRevision: true },
    });
    return rows.map((r) => r.bundleRevision ?? 0);
  }

  async function latest(clusterId: string): Promise<BundleDocument> {
    const row = await h.prisma.bundle.findFirstOrThrow({ where: { clusterId }, orderBy: { revision: 'desc' } });
    const v = verifyBundle(row.envelope, { trustedKeys: [{ kid: key.kid, publicKey: key.publicKey }], clusterId, now });
    assert.ok(v.ok, JSON.stringify(v));
    return v.bundle;
  }

  it('stores revision 1 for every cluster (in chunks) and announces each', async () => {
    assert.deepEqual(await compiler.compileTenant(tenantId), { examined: 3, stored: 3, unchanged: 0 });
    assert.deepEqual(await revisions(), [1, 1, 1]);
    assert.deepEqual(announced.map(([id, rev]) => `${id}@${rev}`).sort(), clusterIds.map((id) => `${id}@1`).sort());
  });

  it('does not re-sign unchanged content', async () => {
    announced.length = 0;
    assert.deepEqual(await compiler.compileTenant(tenantId), { examined: 3, stored: 0, unchanged: 3 });
    assert.deepEqual(await revisions(), [1, 1, 1]);
    assert.equal(announced.length, 0);
  });

  it('re-signs a bundle nearing expiry under a new revision with the same content', async () => {
    const before = await latest(clusterIds[0]!);
    now = new Date(now.getTime() + 13 * HOUR); // less than renewBefore (12 h) of the 24 h remains
    assert.deepEqual(await compiler.compileTenant(tenantId), { examined: 3, stored: 3, unchanged: 0 });
    const renewed = await latest(clusterIds[0]!);
    assert.equal(renewed.revision, 2);
    assert.deepEqual(renewed.policies, before.policies);
    assert.equal(renewed.expiresAt, new Date(now.getTime() + 24 * HOUR).toISOString());
    const hashes = await h.prisma.bundle.findMany({
      where: { clusterId: clusterIds[0]! },
      select: { contentHash: true },
    });
    assert.equal(new Set(hashes.map((b) => b.contentHash)).size, 1, 'same content, same hash');
  });

  it('repairs a change that was never announced when the tenant is reconciled', async () => {
    const policy = await h.prisma.policy.findFirstOrThrow({
      where: { tenantId, isDefault: true, type: 'MISCONFIGURATION' },
    });
    await h.prisma.policy.update({ where: { id: policy.id }, data: { action: 'BLOCK' } }); // no outbox event
    assert.deepEqual(await compiler.compileTenant(tenantId), { examined: 3, stored: 3, unchanged: 0 });
    for (const id of clusterIds) {
      const doc = await latest(id);
      assert.equal(doc.revision, 3);
      assert.equal(doc.policies.find((p) => p.id === policy.id)?.action, 'BLOCK');
    }
  });

  it('recompiles only the clusters it is given', async () => {
    const policy = await h.prisma.policy.findFirstOrThrow({
      where: { tenantId, isDefault: true, type: 'MISCONFIGURATION' },
    });
    await h.prisma.policy.update({ where: { id: policy.id }, data: { action: 'AUDIT' } });
    assert.deepEqual(await compiler.compileTenant(tenantId, [clusterIds[1]!]), {
      examined: 1,
      stored: 1,
      unchanged: 0,
    });
    assert.deepEqual(await revisions(), [3, 4, 3]);
  });
});
