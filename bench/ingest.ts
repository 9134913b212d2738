/**
 * `npm run bench -- ingest [events] [inFlight]`: admission-event batches of 500, gzipped
 * as the agent sends them, over HTTP into the real API (validation, snapshot hashing
 * and compression, events + rollups in one statement), sustained events/s; then the
 * same rows loaded into admission_events by a plain COPY in the same run, as the
 * ceiling; then admission-to-queryable latency through GraphQL.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { AdmissionEvent } from '@portcullis/contracts';
import type { PrismaClient } from '@portcullis/db';
import { issueAgentCredential } from '../apps/api/src/clusters/agent-credential';
import { terms } from '../apps/api/src/inventory/admission-event-ingestor';
import { SnapshotHasher } from '../apps/api/src/inventory/snapshot-codec';
import { startApi } from '../apps/api/test/support/harness';
import { benchEvent, benchWorkloads } from './support/admissions';
import { benchDatabase, percentile, tenantWithClusters } from './support/stack';

const BATCH = 500;

function post(pool: http.Agent, port: number, token: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent: pool, port, host: '127.0.0.1', method: 'POST', path: '/agent/v1/admission-events', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A COPY text-format field. */
const f = (v: string | null) => (v === null ? '\\N' : v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r'));
const arr = (a: readonly string[]) => `{${a.map((s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;

/** Waits (without folding anything itself) until the hourly rollup counts `expected` admissions of the tenant. */
async function waitForRollups(prisma: PrismaClient, tenantId: string, expected: number): Promise<number> {
  for (let i = 0; ; i++) {
    const [row] = await prisma.$queryRaw<[{ n: bigint | null }]>`SELECT sum(admissions) AS n FROM admission_rollups_hourly WHERE tenant_id = ${tenantId}::uuid AND policy_id = ''`;
    const n = Number(row.n ?? 0);
    if (n === expected) return n;
    if (n > expected) throw new Error(`the rollups count ${n} admissions, more than the ${expected} stored`);
    if (i > 60_000) throw new Error(`the rollups count ${n} of ${expected} admissions after a minute`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** CPU ticks (user + system) so far of each PostgreSQL process connected to this database, from /proc. */
async function postgresCpu(prisma: PrismaClient): Promise<Map<number, number>> {
  const pids = await prisma.$queryRaw<Array<{ pid: number }>>`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`;
  const ticks = new Map<number, number>();
  for (const { pid } of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks.set(pid, Number(fields[11]) + Number(fields[12])); // utime, stime (fields 14 and 15 of stat)
    } catch {
      // the backend exited meanwhile
    }
  }
  return ticks;
}

/** CPU seconds between two samples (a backend that exited in between is not counted). */
function cpuSecondsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let ticks = 0;
  for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0);
  return ticks / CLOCK_TICKS;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

export async function run(args: readonly string[]): Promise<Record<string, unknown>> {
  const total = Number(args[0] ?? 200_000);
  const inFlight = Number(args[1] ?? 4);
  const { config, prisma } = await benchDatabase('portcullis_bench_ingest');
  const { tenantId, cloudScopeId, clusterIds } = await tenantWithClusters(prisma, 4);
  const tokens: string[] = [];
  for (const id of clusterIds) {
    const c = issueAgentCredential();
    tokens.push(c.token);
    await prisma.cluster.update({ where: { id }, data: { agentTokenId: c.tokenId, agentTokenHash: c.secretHash } });
  }
  const policyId = (await prisma.policy.findFirstOrThrow({ where: { tenantId, isDefault: true, type: 'MISCONFIGURATION' } })).id;
  const workloads = benchWorkloads(2000, 50, 3);

  // what the agents would have spooled: batches of 500, gzipped by the agent (not timed)
  const batches: Array<{ cluster: number; events: AdmissionEvent[]; body: Buffer }> = [];
  const now = Date.now();
  for (let b = 0; b * BATCH < total; b++) {
    const events = Array.from({ length: Math.min(BATCH, total - b * BATCH) }, (_, i) => {
      const n = b * BATCH + i;
      return benchEvent(policyId, workloads[n % workloads.length]!, new Date(now - 60_000 + (n % 60_000)), n % 3);
    });
    batches.push({ cluster: b % clusterIds.length, events, body: gzipSync(JSON.stringify({ events })) });
  }

  const api = await startApi({ DATABASE_URL: config.databaseUrl, REDIS_PREFIX: config.redisPrefix, BUNDLE_SIGNING_KEYS_DIR: config.bundles.signingKeysDir, LOG_LEVEL: 'error' });
  await api.app.listen(0, '127.0.0.1');
  const port = (api.app.getHttpServer().address() as AddressInfo).port;
  const pool = new http.Agent({ keepAlive: true, maxSockets: inFlight + 2 });
  try {
    // warm-up (connections, JIT, today's partition), not counted: a tenth of a batch set of its own
    const warm = Array.from({ length: BATCH }, (_, i) => benchEvent(policyId, workloads[i]!, new Date(now - 120_000), 0));
    await post(pool, port, tokens[0]!, gzipSync(JSON.stringify({ events: warm })));

    const rollupsFolded = await waitForRollups(prisma, tenantId, BATCH);
    const latencies: number[] = [];
    let next = 0;
    const pgBefore = await postgresCpu(prisma);
    const started = process.hrtime.bigint();
    const cpuBefore = process.cpuUsage();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < batches.length) {
          const batch = batches[next++]!;
          const t0 = process.hrtime.bigint();
          const status = await post(pool, port, tokens[batch.cluster]!, batch.body);
          if (status !== 200) throw new Error(`upload answered ${status}`);
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    // the rollups are folded from staging after the answer: how long after the last answer they count every event
    const lastAnswered = process.hrtime.bigint();
    await waitForRollups(prisma, tenantId, total + BATCH);
    const rollupsCurrentMs = Number(process.hrtime.bigint() - lastAnswered) / 1e6;
    const pgCpuSeconds = cpuSecondsBetween(pgBefore, await postgresCpu(prisma));
    const stored = await prisma.admissionEvent.count({ where: { tenantId } });
    if (stored !== total + BATCH) throw new Error(`stored ${stored} events, expected ${total + BATCH}`);

    // the ceiling: the same rows, as plain COPY into the same partitioned table (no rollups, no
    // snapshots table, no validation) — with the filter terms and snapshot reference the ingest
    // stores, since the GIN index on terms is a large part of what an insert costs
    const copyTenant = randomUUID();
    // the ingest's own hasher: canonical JSON only for snapshots it has not seen
    const hasher = new SnapshotHasher();
    const snapshotRef = (e: AdmissionEvent) => (e.snapshot ? `\\x${hasher.hash(e.snapshot).hash}` : null);
    const lines = batches.flatMap((b) =>
      b.events.map((e) =>
        [copyTenant, e.occurredAt, e.eventId, clusterIds[b.cluster]!, cloudScopeId, e.namespace ?? '', e.kind, e.apiVersion, e.name, e.uid ?? null, e.requestUid ?? null, e.owner.kind, e.owner.name, e.operation, String(e.dryRun), e.decision, String(e.bundleRevision), e.requestingUser.username, arr(e.requestingUser.groups ?? []), arr(e.images), arr(terms(clusterIds[b.cluster]!, e)), JSON.stringify(e.findings), snapshotRef(e)]
          .map(f)
          .join('\t'),
      ),
    );
    const copyText = Buffer.from(`${lines.join('\n')}\n`);
    const client = new Client({ connectionString: config.databaseUrl });
    await client.connect();
    const copyStarted = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const stream = client.query(copyFrom(`COPY admission_events (tenant_id, occurred_at, event_id, cluster_id, cloud_scope_id, namespace, kind, api_version, name, uid, request_uid, owner_kind, owner_name, operation, dry_run, decision, bundle_revision, username, user_groups, images, terms, findings, snapshot_hash) FROM STDIN`));
      stream.on('error', reject);
      stream.on('finish', () => resolve());
      stream.end(copyText);
    });
    const copySeconds = Number(process.hrtime.bigint() - copyStarted) / 1e9;
    await client.end();

    // admission to queryable: upload a batch, then ask GraphQL for one of its workloads until it answers
    const ownerId = (await prisma.roleAssignment.findFirstOrThrow({ where: { tenantId, role: 'OWNER' } })).principalId;
    const userToken = await api.token(tenantId, ownerId, 'bench');
    const queryable: number[] = [];
    for (let s = 0; s < 5; s++) {
      const marker = { ...workloads[s]!, name: `marker-${s}-${randomUUID().slice(0, 8)}` };
      const events = Array.from({ length: BATCH }, (_, i) => benchEvent(policyId, i === BATCH - 1 ? marker : workloads[i]!, new Date(), 0));
      const body = gzipSync(JSON.stringify({ events }));
      const t0 = process.hrtime.bigint();
      if ((await post(pool, port, tokens[0]!, body)) !== 200) throw new Error('marker upload failed');
      for (;;) {
        const res = await api.gql<{ admissionEvents: { totalCount: number } }>(userToken, `{ admissionEvents(first: 1, filter: { workload: "Deployment/${marker.name}" }) { totalCount } }`);
        if ((res.data?.admissionEvents.totalCount ?? 0) > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      queryable.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }

    latencies.sort((a, b) => a - b);
    const eventsPerSecond = Math.round(total / seconds);
    const copyEventsPerSecond = Math.round(total / copySeconds);
    return {
      events: total,
      batchSize: BATCH,
      inFlight,
      seconds: Math.round(seconds * 100) / 100,
      eventsPerSecond,
      copyEventsPerSecond,
      copyRatio: Math.round((eventsPerSecond / copyEventsPerSecond) * 1000) / 1000,
      // CPU of this process (API and the bench's HTTP client) during the timed run: what contention does not distort
      processCpuSeconds: Math.round(cpuSeconds * 100) / 100,
      eventsPerProcessCpuSecond: Math.round(total / cpuSeconds),
      // CPU of the PostgreSQL backends serving this database (ingest statements, rollup flushes, autovacuum)
      // from the end of the warm-up until the rollups counted every event, from /proc
      postgresCpuSeconds: Math.round(pgCpuSeconds * 100) / 100,
      postgresCpuMicrosPerEvent: Math.round((pgCpuSeconds / total) * 1e6),
      batchP50Ms: Math.round(percentile(latencies, 50)),
      batchP99Ms: Math.round(percentile(latencies, 99)),
      queryableMaxMs: Math.round(Math.max(...queryable)),
      // from the last upload's answer until the hourly rollup counted every event of the run (no report asked for it)
      rollupsCurrentMs: Math.round(rollupsCurrentMs),
      warmupRollupsFolded: rollupsFolded,
      snapshotsStored: await prisma.admissionSnapshot.count({ where: { tenantId } }),
    };
  } finally {
    pool.destroy();
    await api.close();
    await prisma.$disconnect();
  }
}
