/**
 * Partitions of the admission inventory: created ahead by the worker's repeatable job,
 * dropped once older than the longest tenant retention; shorter tenant retentions
 * delete rows inside the partitions that stay.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { INestApplicationContext } from '@nestjs/common';
import { loadConfig } from '@portcullis/config';
import { SqlPool, createPrismaClient, type PrismaClient } from '@portcullis/db';
import { InventoryStore } from '@portcullis/inventory';
import { TenantOnboarding } from '@portcullis/tenants';
import { InventoryMaintenance } from '../src/inventory/inventory-maintenance';
import { startWorker } from '@portcullis/testing';

const testDb = process.env['TEST_DATABASE_URL'];
const DAY = 86_400_000;
const today = () => Math.floor(Date.now() / DAY) * DAY;
const partition = (ms: number) => `admission_events_p${new Date(ms).toISOString().slice(0, 10).replace(/-/g, '')}`;

describe(
  'inventory partitions and retention',
  { skip: testDb ? false : 'TEST_DATABASE_URL is not set: run through `npm test`' },
  () => {
    let prisma: PrismaClient;
    let sql: SqlPool;

    before(() => {
      prisma = createPrismaClient({ databaseUrl: testDb!, poolSize: 2 });
      sql = new SqlPool({ databaseUrl: testDb!, max: 2 });
    });
    after(async () => {
      await prisma?.$disconnect();
      await sql?.end();
    });

    async function tenant(retentionDays: number): Promise<{ tenantId: string; clusterId: string; scopeId: string }> {
      const tenantId = randomUUID();
      await new TenantOnboarding(prisma).create({
        tenantId,
        ownerObjectId: randomUUID(),
        name: `retention ${retentionDays}`,
        operator: 'test',
      });
      await prisma.tenant.update({ where: { id: tenantId }, data: { admissionRetentionDays: retentionDays } });
      return { tenantId, clusterId: randomUUID(), scopeId: randomUUID() };
    }

    async function insertEvent(t: { tenantId: string; clusterId: string; scopeId: string }, at: number): Promise<void> {
      const day = new Date(Math.floor(at / DAY) * DAY);
      // one transaction: a worker of another test file cannot drop the partition between the two
      await prisma.$transaction(async (tx) => {
        await tx.$queryRawUnsafe(
          'SELECT admission_events_ensure_partition($1::date)',
          new Date(at).toISOString().slice(0, 10),
        );
        await tx.admissionEvent.create({
          data: {
            tenantId: t.tenantId,
            occurredAt: new Date(at),
            eventId: randomUUID(),
            clusterId: t.clusterId,
            cloudScopeId: t.scopeId,
            namespace: 'ns',
            kind: 'Pod',
            apiVersion: 'v1',
            name: 'p',
            ownerKind: 'Deployment',
            ownerName: 'web',
            operation: 'CREATE',
            dryRun: false,
            decision: 'ALLOWED',
            username: 'u',
            userGroups: [],
            images: [],
            terms: [],
            findings: [],
          },
        });
      });
      // the per-workload rollup as the flush folds one admission of that day into its month row
      await prisma.$executeRaw`INSERT INTO admission_workload_months AS w (tenant_id, policy_id, month, cluster_id, namespace, owner_kind, owner_name, rule_id, decision,
        cloud_scope_id, admissions_through, last_at)
      VALUES (${t.tenantId}::uuid, 'p', date_trunc('month', ${day}::timestamptz, 'UTC'), ${t.clusterId}::uuid, 'ns', 'Deployment', 'web', '', 'AUDITED', ${t.scopeId}::uuid,
        admission_days_through(ARRAY[${day.getUTCDate()}::int], ARRAY[1::bigint]), ${new Date(at)})
      ON CONFLICT (tenant_id, policy_id, month, cluster_id, namespace, owner_kind, owner_name, rule_id, decision)
      DO UPDATE SET admissions_through = admission_days_add(w.admissions_through, EXCLUDED.admissions_through), last_at = greatest(w.last_at, EXCLUDED.last_at)`;
    }

    /** The days (as days before today) the per-workload rollup still counts admissions on, oldest first, and how many. */
    async function rollupDays(tenantId: string): Promise<Array<[daysAgo: number, admissions: number]>> {
      const rows = await prisma.admissionWorkloadMonth.findMany({ where: { tenantId }, orderBy: { month: 'asc' } });
      const out: Array<[number, number]> = [];
      for (const r of rows) {
        for (let d = 1; d <= 31; d++) {
          const n = Number(r.admissionsThrough[d - 1]!) - (d > 1 ? Number(r.admissionsThrough[d - 2]!) : 0);
          if (n !== 0) out.push([Math.round((today() - (r.month.getTime() + (d - 1) * DAY)) / DAY), n]);
        }
      }
      return out;
    }

    const eventDays = async (tenantId: string) =>
      (
        await prisma.admissionEvent.findMany({
          where: { tenantId },
          select: { occurredAt: true },
          orderBy: { occurredAt: 'asc' },
        })
      ).map((e) => Math.round((today() + 3_600_000 - e.occurredAt.getTime()) / DAY)); // events are at 01:00 of their day

    it('drops partitions older than the longest retention and deletes older rows of shorter-retention tenants', async () => {
      const short = await tenant(10);
      const long = await tenant(30);
      const offsets = [40, 35, 20, 15, 5, 0];
      for (const t of [short, long]) for (const d of offsets) await insertEvent(t, today() - d * DAY + 3_600_000);

      const maintenance = new InventoryMaintenance(prisma, new InventoryStore(sql));
      await maintenance.run(new Date());
      const partitions = await maintenance.partitions();
      for (const d of [40, 35]) {
        // (a worker started by another test file may have dropped it first)
        assert.ok(!partitions.includes(partition(today() - d * DAY)), `partition of ${d} days ago is dropped`);
      }
      for (let d = -1; d <= 7; d++)
        assert.ok(partitions.includes(partition(today() + d * DAY)), `partition of day ${d} exists`);
      assert.ok(partitions.includes(partition(today() - 20 * DAY)));

      assert.deepEqual(await eventDays(short.tenantId), [5, 0]);
      assert.deepEqual(await eventDays(long.tenantId), [20, 15, 5, 0]);
      assert.deepEqual(await rollupDays(short.tenantId), [
        [5, 1],
        [0, 1],
      ]);
      assert.deepEqual(await rollupDays(long.tenantId), [
        [20, 1],
        [15, 1],
        [5, 1],
        [0, 1],
      ]);
      // no month row is left holding nothing
      const empty = await prisma.$queryRaw<
        [{ n: bigint }]
      >`SELECT count(*) AS n FROM admission_workload_months WHERE tenant_id IN (${short.tenantId}::uuid, ${long.tenantId}::uuid) AND admissions_through[31] = 0`;
      assert.equal(Number(empty[0].n), 0);

      // idempotent: a second run finds nothing to do
      const again = await maintenance.run(new Date());
      assert.deepEqual(
        { ...again, rollupRowsDeleted: 0 },
        { partitionsCreated: [], partitionsDropped: [], eventsDeleted: 0, rollupRowsDeleted: 0, snapshotsDeleted: 0 },
      );
      assert.deepEqual(await eventDays(short.tenantId), [5, 0]);
    });

    it('the worker runs maintenance as a repeatable BullMQ job and creates the partitions ahead', async () => {
      const ahead = partition(today() + 7 * DAY);
      await prisma.$executeRawUnsafe(`DROP TABLE IF EXISTS "${ahead}"`);
      const config = loadConfig({ ...process.env, DATABASE_URL: testDb });
      const worker: INestApplicationContext = await startWorker(config);
      try {
        const maintenance = new InventoryMaintenance(prisma, new InventoryStore(sql));
        const deadline = Date.now() + 30_000;
        while (!(await maintenance.partitions()).includes(ahead)) {
          assert.ok(Date.now() < deadline, `${ahead} was not created by the worker`);
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        await worker.close();
      }
    });

    it('the worker folds rollup contributions an API process staged but did not fold (it stopped in between)', async () => {
      const t = await tenant(30);
      const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
      const day = new Date(today());
      // what the ingest statement of an API that stopped before its flush leaves behind
      await prisma.$executeRaw`INSERT INTO admission_rollup_staging (tenant_id, cluster_id, cloud_scope_id, hour, day, namespace, owner_kind, owner_name, snapshot_hash, keys, admissions, last_at)
      VALUES (${t.tenantId}::uuid, ${t.clusterId}::uuid, ${t.scopeId}::uuid, ${hour}, ${day}, 'ns', 'Deployment', 'web', NULL, ARRAY['AUDITED::', 'AUDITED::p:1', 'AUDITED:resource-limits:p:1'], 3, ${hour})`;
      const config = loadConfig({ ...process.env, DATABASE_URL: testDb });
      const worker: INestApplicationContext = await startWorker(config);
      try {
        const deadline = Date.now() + 30_000;
        while ((await prisma.admissionRollupHourly.count({ where: { tenantId: t.tenantId } })) === 0) {
          assert.ok(Date.now() < deadline, 'the worker did not fold the staged rows');
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        await worker.close();
      }
      const hourly = await prisma.admissionRollupHourly.findMany({
        where: { tenantId: t.tenantId },
        select: { policyId: true, ruleId: true, decision: true, admissions: true },
        orderBy: [{ policyId: 'asc' }, { ruleId: 'asc' }],
      });
      assert.deepEqual(
        hourly.map((r) => ({ ...r, admissions: Number(r.admissions) })),
        [
          { policyId: '', ruleId: '', decision: 'AUDITED', admissions: 3 },
          { policyId: 'p:1', ruleId: '', decision: 'AUDITED', admissions: 3 },
          { policyId: 'p:1', ruleId: 'resource-limits', decision: 'AUDITED', admissions: 3 },
        ],
      );
      // a policy id may hold the separator: it is everything after the rule
      const workloads = await prisma.admissionWorkloadMonth.findMany({
        where: { tenantId: t.tenantId },
        select: { policyId: true, ruleId: true, admissionsThrough: true },
      });
      assert.deepEqual(
        workloads
          .map((r) => ({ policyId: r.policyId, ruleId: r.ruleId, admissions: Number(r.admissionsThrough[30]) }))
          .sort((a, b) => a.ruleId.localeCompare(b.ruleId)),
        [
          { policyId: 'p:1', ruleId: '', admissions: 3 },
          { policyId: 'p:1', ruleId: 'resource-limits', admissions: 3 },
        ],
      );
      assert.equal(
        Number(
          (
            await prisma.$queryRaw<
              [{ n: bigint }]
            >`SELECT count(*) AS n FROM admission_rollup_staging WHERE tenant_id = ${t.tenantId}::uuid`
          )[0].n,
        ),
        0,
      );
    });
  },
);
