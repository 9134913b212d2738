/**
 * The inventory store against the real database: a batch stored through it is confined to its
 * tenant whichever path reads it (plain pg or Prisma, both bound by bindTenant), the tenant
 * binding ends with its transaction on a pooled connection, and maintenance refuses to drop
 * what is not a daily partition.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { eventTerms, type AdmissionEvent } from '@portcullis/contracts';
import { Prisma, SqlPool, createPrismaClient, withTenant, type PrismaClient } from '@portcullis/db';
import { EventRowsEncoder, InventoryStore, isResentBatch, stagedKeys } from '@portcullis/inventory';
import { TenantOnboarding } from '@portcullis/tenants';

const testDb = process.env['TEST_DATABASE_URL'];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const EVERY_SCOPE = Prisma.sql`TRUE`;

describe('inventory store', { skip: testDb ? false : 'TEST_DATABASE_URL is not set: run through `npm test`' }, () => {
  let prisma: PrismaClient;
  let sql: SqlPool;
  let store: InventoryStore;

  before(() => {
    prisma = createPrismaClient({ databaseUrl: testDb!, poolSize: 2 });
    // one connection: every transaction below reuses the connection the one before it bound
    sql = new SqlPool({ databaseUrl: testDb!, max: 1 });
    store = new InventoryStore(sql);
  });
  after(async () => {
    await prisma?.$disconnect();
    await sql?.end();
  });

  async function tenant(): Promise<string> {
    const tenantId = randomUUID();
    await new TenantOnboarding(prisma).create({
      tenantId,
      ownerObjectId: randomUUID(),
      name: `store ${tenantId.slice(0, 8)}`,
      operator: 'test',
    });
    return tenantId;
  }

  /** One event of cluster `clusterId`, as the ingest encodes it. */
  async function batchOf(
    clusterId: string,
    t: number,
  ): Promise<{ params: [Buffer, string, string]; encoder: EventRowsEncoder }> {
    const oid = await store.eventRowTypeOid();
    assert.ok(oid, 'the migrations created admission_event_row');
    const event = {
      eventId: randomUUID(),
      namespace: 'shop',
      kind: 'Pod',
      apiVersion: 'v1',
      name: 'web-1',
      owner: { kind: 'Deployment', name: 'web' },
      operation: 'CREATE',
      dryRun: false,
      decision: 'ALLOWED',
      requestingUser: { username: 'alice' },
      images: ['nginx:1.27'],
      findings: [],
    } as unknown as AdmissionEvent;
    const encoder = new EventRowsEncoder(oid, 1);
    encoder.add({
      id: event.eventId,
      t,
      hr: Math.floor(t / HOUR) * HOUR,
      dy: Math.floor(t / DAY) * DAY,
      ns: 'shop',
      k: 'Pod',
      av: 'v1',
      n: 'web-1',
      uid: null,
      ru: null,
      ok: 'Deployment',
      on: 'web',
      op: 'CREATE',
      dr: false,
      d: 'ALLOWED',
      br: null,
      u: 'alice',
      g: [],
      im: ['nginx:1.27'],
      tm: eventTerms(clusterId, event),
      f: '[]',
      h: null,
      ks: stagedKeys(event),
    });
    return { params: [encoder.finish(), '[]', '[]'], encoder };
  }

  it('stores a batch its tenant reads and no other tenant does, through plain pg and through Prisma; a re-send stores nothing', async () => {
    const [a, b] = [await tenant(), await tenant()];
    const t = Date.now() - 60_000;
    const from = new Date(t - HOUR);
    const to = new Date(t + HOUR);
    await store.ensurePartition(new Date(t).toISOString().slice(0, 10));
    const clusterId = randomUUID();
    const { params, encoder } = await batchOf(clusterId, t);
    const batch = { tenantId: a, clusterId, cloudScopeId: randomUUID(), params };
    try {
      assert.equal((await store.storeBatch(batch, false)).inserted, 1);
      await assert.rejects(
        store.storeBatch(batch, false),
        (err) => isResentBatch(err),
        'the plain insert fails whole on a re-sent event',
      );
      assert.equal((await store.storeBatch(batch, true)).inserted, 0, 'the re-send statement skips what is stored');
    } finally {
      encoder.release();
    }

    const count = (tenantId: string) =>
      sql.inTenant(
        tenantId,
        async (client) =>
          (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM admission_events')).rows[0]!.n,
      );
    assert.equal(await count(a), 1);
    assert.equal(await count(b), 0, 'plain pg: another tenant sees none of it, with no filter in the query');

    const events = (tenantId: string) =>
      withTenant(prisma, tenantId, (tx) => store.events(tx, { from, to, scope: EVERY_SCOPE, terms: [], limit: 10 }));
    const mine = await events(a);
    assert.equal(mine.total, 1);
    assert.deepEqual(
      mine.rows.map((r) => [r.cluster_id, r.namespace, r.owner_kind, r.owner_name, r.has_snapshot]),
      [[clusterId, 'shop', 'Deployment', 'web', false]],
    );
    assert.deepEqual(
      await events(b),
      { rows: [], total: 0 },
      'Prisma: another tenant sees none of it, with every scope readable',
    );
    const byTerm = await withTenant(prisma, a, (tx) =>
      store.events(tx, { from, to, scope: EVERY_SCOPE, terms: [`c:${randomUUID()}`], limit: 10 }),
    );
    assert.equal(byTerm.total, 0, 'the terms filter applies');

    await store.foldStagedPart(a, true, 0);
    await store.foldStagedPart(a, true, 1);
    const summary = await withTenant(prisma, a, (tx) =>
      store.summary(tx, { from: new Date(Math.floor(t / HOUR) * HOUR), to, dims: [], scope: EVERY_SCOPE, limit: 10 }),
    );
    assert.equal(summary.total, 1, 'the staged contribution is folded into the hourly rollup');
    const other = await withTenant(prisma, b, (tx) =>
      store.summary(tx, { from: new Date(Math.floor(t / HOUR) * HOUR), to, dims: [], scope: EVERY_SCOPE, limit: 10 }),
    );
    assert.equal(other.total, 0);
  });

  it('a tenant binding ends with its transaction: the pooled connection is the owner again, committed or rolled back', async () => {
    const a = await tenant();
    const who = async () =>
      (
        await sql.asOwner<{ role: string; tenant: string | null }>(
          "SELECT current_user AS role, current_setting('app.tenant_id', true) AS tenant",
        )
      )[0]!;
    const owner = await who();
    assert.notEqual(owner.role, 'portcullis_app');
    const inside = await sql.inTenant(
      a,
      async (client) =>
        (
          await client.query<{ role: string; tenant: string }>(
            "SELECT current_user AS role, current_setting('app.tenant_id') AS tenant",
          )
        ).rows[0]!,
    );
    assert.deepEqual(inside, { role: 'portcullis_app', tenant: a });
    assert.equal((await who()).role, owner.role);
    assert.ok(!(await who()).tenant, 'no tenant setting survives the commit');
    await assert.rejects(
      sql.inTenant(a, async () => Promise.reject(new Error('work failed'))),
      /work failed/,
    );
    assert.equal((await who()).role, owner.role);
    assert.ok(!(await who()).tenant, 'no tenant setting survives the rollback');
  });

  it('drops only daily partitions of admission_events', async () => {
    await assert.rejects(store.dropPartition('admission_events'), /not a daily admission_events partition/);
    await assert.rejects(
      store.dropPartition('admission_events_p20260101"; DROP TABLE tenants; --'),
      /not a daily admission_events partition/,
    );
    const day = new Date(Date.now() + 2 * DAY).toISOString().slice(0, 10);
    await store.ensurePartition(day);
    assert.ok((await store.partitions()).includes(`admission_events_p${day.replace(/-/g, '')}`));
  });
});
