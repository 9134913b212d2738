/**
 * `npm run bench -- ingest [events] [inFlight]`: admission-event batches of 500, gzipped
 * as the agent sends them (a snapshot in full until the API has named its id to that
 * cluster's agent, then by id), over HTTP into the real API (validation, snapshot hashing
 * and compression, events + rollups in one statement), sustained events/s; and, as the
 * ceiling, the same rows loaded into admission_events by a plain COPY. The two take turns
 * in rounds (a fifth of the events each, the order alternating), pooled: measured one
 * after the other, the ratio moved with whatever the VM did in those minutes. Then
 * admission-to-queryable latency through GraphQL.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { SnapshotHasher, eventTerms as terms, type AdmissionEvent } from '@portcullis/contracts';
import type { PrismaClient } from '@portcullis/db';
import { issueAgentCredential } from '@portcullis/credentials';
import { startApi } from '@portcullis/testing';
import { benchEvent, benchWorkloads, postEventBatch } from './support/admissions';
import { benchDatabase, percentile, tenantWithClusters } from './support/stack';

const BATCH = 500;

/** A COPY text-format field. */
const f = (v: string | null) =>
  v === null ? '\\N' : v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
const arr = (a: readonly string[]) =>
  `{${a.map((s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;

/** Waits (without folding anything itself) until the hourly rollup counts `expected` admissions of the tenant. */
async function waitForRollups(prisma: PrismaClient, tenantId: string, expected: number): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [row] = await prisma.$queryRaw<
      [{ n: bigint | null }]
    >`SELECT sum(admissions) AS n FROM admission_rollups_hourly WHERE tenant_id = ${tenantId}::uuid AND policy_id = ''`;
    const n = Number(row.n ?? 0);
    if (n === expected) return n;
    if (n > expected) throw new Error(`the rollups count ${n} admissions, more than the ${expected} stored`);
    if (Date.now() > deadline) throw new Error(`the rollups count ${n} of ${expected} admissions after a minute`);
    // every 5 ms: a poll is a query PostgreSQL answers while the flush it waits for runs
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** CPU ticks (user + system) so far of each PostgreSQL process connected to this database, from /proc. */
async function postgresCpu(prisma: PrismaClient): Promise<Map<number, number>> {
  const pids = await prisma.$queryRaw<
    Array<{ pid: number }>
  >`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`;
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

/** Rounds in which the ingest and the COPY take turns, each with its share of the events. */
const ROUNDS = 5;

export async function run(args: readonly string[]): Promise<Record<string, unknown>> {
  const total = Number(args[0] ?? 200_000);
  const inFlight = Number(args[1] ?? 4);
  if (!Number.isInteger(total) || total < BATCH * ROUNDS)
    throw new Error(
      `events: an integer of at least ${BATCH * ROUNDS} (one batch of ${BATCH} per round), not "${args[0]}"`,
    );
  if (!Number.isInteger(inFlight) || inFlight < 1) throw new Error(`inFlight: a positive integer, not "${args[1]}"`);
  const { config, prisma } = await benchDatabase('portcullis_bench_ingest');
  const { tenantId, cloudScopeId, clusterIds } = await tenantWithClusters(prisma, 4);
  const tokens: string[] = [];
  for (const id of clusterIds) {
    const c = issueAgentCredential();
    tokens.push(c.token);
    await prisma.cluster.update({ where: { id }, data: { agentTokenId: c.tokenId, agentTokenHash: c.secretHash } });
  }
  const policyId = (
    await prisma.policy.findFirstOrThrow({ where: { tenantId, isDefault: true, type: 'MISCONFIGURATION' } })
  ).id;
  const workloads = benchWorkloads(2000, 50, 3);

  // what the agents would have spooled: batches of 500, gzipped by the agent, and the same rows
  // as COPY text for the ceiling (not timed). Only the bytes are kept: the event objects would
  // be hundreds of MB of heap in this process, and its garbage collections would be charged to
  // the API under test.
  const now = Date.now();
  const copy = new CopyLoader(randomUUID(), cloudScopeId, clusterIds);
  const perRound = Math.ceil(Math.ceil(total / BATCH) / ROUNDS) * BATCH;
  // what each cluster's agent has had named by the API (cluster, snapshot id): it sends those
  // snapshots by id. The agent learns an id from the answer to the upload that carried the
  // snapshot; here only from an earlier round's (a real agent would already use it in the
  // same round's later batches), so the bench sends a little more in full than an agent would.
  const named = new Set<string>();
  const generate = (first: number, count: number, at: (n: number) => Date): Round => {
    const uploads: Upload[] = [];
    const lines: string[] = [];
    const carried: string[] = [];
    for (let b = 0; b * BATCH < count; b++) {
      const cluster = (first / BATCH + b) % clusterIds.length;
      const events = Array.from({ length: Math.min(BATCH, count - b * BATCH) }, (_, i): AdmissionEvent => {
        const n = first + b * BATCH + i;
        const e = benchEvent(policyId, workloads[n % workloads.length]!, at(n), n % 3);
        const id = copy.snapshotId(e.snapshot!);
        if (!named.has(`${cluster}:${id}`)) {
          carried.push(`${cluster}:${id}`);
          return e;
        }
        const { snapshot: _inFull, ...byId } = e;
        return { ...byId, snapshotHash: id };
      });
      uploads.push({ cluster, body: gzipSync(JSON.stringify({ events })) });
      lines.push(...copy.lines(cluster, events));
    }
    for (const key of carried) named.add(key);
    return { uploads, events: count, inFull: carried.length, copyText: Buffer.from(`${lines.join('\n')}\n`) };
  };
  // a first round that is not counted, of the same size (JIT, each pooled connection's
  // statement plan, caches): its ratio was 0.24-0.38 where the later rounds' were 0.36-0.52
  const rounds = [generate(0, perRound, (n) => new Date(now - 120_000 + (n % 60_000)))];
  for (let first = 0; first < total; first += perRound)
    rounds.push(generate(first, Math.min(perRound, total - first), (n) => new Date(now - 60_000 + (n % 60_000))));
  const warmupEvents = rounds[0]!.events;

  const api = await startApi({
    DATABASE_URL: config.databaseUrl,
    REDIS_PREFIX: config.redisPrefix,
    BUNDLE_SIGNING_KEYS_DIR: config.bundles.signingKeysDir,
    LOG_LEVEL: 'error',
  });
  await api.app.listen(0, '127.0.0.1');
  const port = (api.app.getHttpServer().address() as AddressInfo).port;
  const pool = new http.Agent({ keepAlive: true, maxSockets: inFlight + 2 });
  const copyClient = new Client({ connectionString: config.databaseUrl });
  await copyClient.connect();
  try {
    let uploaded = 0;
    /** One round's ingest turn: from its first upload until the rollups count its last event. */
    const ingestTurn = async (round: Round) => {
      const pgBefore = await postgresCpu(prisma);
      const cpuBefore = process.cpuUsage();
      const latencies: number[] = [];
      const started = process.hrtime.bigint();
      await uploadAll(
        round.uploads,
        inFlight,
        (upload) => postEventBatch(pool, port, tokens[upload.cluster]!, upload.body),
        latencies,
      );
      const answered = process.hrtime.bigint();
      // the fold of the rollups is part of what ingest costs. The API folds at most once a second
      // on its own; waiting for that timer would count idle time, so the turn folds the rest at
      // once, as a report does before reading
      await api.flushRollups(tenantId);
      const ended = process.hrtime.bigint();
      uploaded += round.events;
      await waitForRollups(prisma, tenantId, uploaded);
      const cpu = process.cpuUsage(cpuBefore);
      return {
        seconds: Number(ended - started) / 1e9,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        pgCpuSeconds: cpuSecondsBetween(pgBefore, await postgresCpu(prisma)),
        foldMs: Number(ended - answered) / 1e6,
        latencies,
      };
    };
    const copyTurn = async (round: Round) => {
      const pgBefore = await postgresCpu(prisma);
      const seconds = await copy.load(copyClient, round.copyText);
      return { seconds, pgCpuSeconds: cpuSecondsBetween(pgBefore, await postgresCpu(prisma)) };
    };
    const ingest = { seconds: 0, cpuSeconds: 0, pgCpuSeconds: 0, rollupsMs: [] as number[], latencies: [] as number[] };
    const ceiling = { seconds: 0, pgCpuSeconds: 0 };
    const perRoundRatio: number[] = [];
    for (const [r, round] of rounds.entries()) {
      // the order alternates: odd rounds COPY first
      const copyFirst = r % 2 === 1 ? await copyTurn(round) : undefined;
      const i = await ingestTurn(round);
      const c = copyFirst ?? (await copyTurn(round));
      if (r === 0) continue; // the warm-up round is not counted
      ingest.seconds += i.seconds;
      ingest.cpuSeconds += i.cpuSeconds;
      ingest.pgCpuSeconds += i.pgCpuSeconds;
      ingest.rollupsMs.push(i.foldMs);
      ingest.latencies.push(...i.latencies);
      ceiling.seconds += c.seconds;
      ceiling.pgCpuSeconds += c.pgCpuSeconds;
      perRoundRatio.push(Math.round((c.seconds / i.seconds) * 1000) / 1000);
    }
    const stored = await prisma.admissionEvent.count({ where: { tenantId } });
    if (stored !== total + warmupEvents) throw new Error(`stored ${stored} events, expected ${total + warmupEvents}`);

    // admission to queryable: upload a batch, then ask GraphQL for one of its workloads until it answers
    const ownerId = (await prisma.roleAssignment.findFirstOrThrow({ where: { tenantId, role: 'OWNER' } })).principalId;
    const userToken = await api.token(tenantId, ownerId, 'bench');
    const queryable: number[] = [];
    for (let s = 0; s < 5; s++) {
      const marker = { ...workloads[s]!, name: `marker-${s}-${randomUUID().slice(0, 8)}` };
      const events = Array.from({ length: BATCH }, (_, i) =>
        benchEvent(policyId, i === BATCH - 1 ? marker : workloads[i]!, new Date(), 0),
      );
      const body = gzipSync(JSON.stringify({ events }));
      const t0 = process.hrtime.bigint();
      if ((await postEventBatch(pool, port, tokens[0]!, body)) !== 200) throw new Error('marker upload failed');
      for (;;) {
        const res = await api.gql<{ admissionEvents: { totalCount: number } }>(
          userToken,
          `{ admissionEvents(first: 1, filter: { workload: "Deployment/${marker.name}" }) { totalCount } }`,
        );
        if ((res.data?.admissionEvents.totalCount ?? 0) > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      queryable.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }

    const latencies = ingest.latencies.sort((a, b) => a - b);
    const rollupsMs = [...ingest.rollupsMs].sort((a, b) => a - b);
    const eventsPerSecond = Math.round(total / ingest.seconds);
    const copyEventsPerSecond = Math.round(total / ceiling.seconds);
    return {
      events: total,
      batchSize: BATCH,
      inFlight,
      rounds: rounds.length - 1,
      warmupEvents,
      // pooled over the rounds' ingest turns, each from its first upload until the rollups counted its last event
      seconds: Math.round(ingest.seconds * 100) / 100,
      eventsPerSecond,
      copySeconds: Math.round(ceiling.seconds * 100) / 100,
      copyEventsPerSecond,
      copyRatio: Math.round((eventsPerSecond / copyEventsPerSecond) * 1000) / 1000,
      copyRatioPerRound: perRoundRatio,
      // CPU of this process (API and the bench's HTTP client) in the ingest turns: what contention does not distort
      processCpuSeconds: Math.round(ingest.cpuSeconds * 100) / 100,
      eventsPerProcessCpuSecond: Math.round(total / ingest.cpuSeconds),
      // CPU of the PostgreSQL backends serving this database (ingest statements, rollup flushes, autovacuum), from /proc
      postgresCpuSeconds: Math.round(ingest.pgCpuSeconds * 100) / 100,
      postgresCpuMicrosPerEvent: Math.round((ingest.pgCpuSeconds / total) * 1e6),
      copyPostgresCpuMicrosPerEvent: Math.round((ceiling.pgCpuSeconds / total) * 1e6),
      batchP50Ms: Math.round(percentile(latencies, 50)),
      batchP99Ms: Math.round(percentile(latencies, 99)),
      queryableMaxMs: Math.round(Math.max(...queryable)),
      // per turn, from its last upload's answer until the rollups counted every event (the turn's own fold of what was staged)
      rollupsCurrentMs: {
        median: Math.round(percentile(rollupsMs, 50)),
        max: Math.round(rollupsMs[rollupsMs.length - 1]!),
      },
      snapshotsStored: await prisma.admissionSnapshot.count({ where: { tenantId } }),
      // of the counted events, those whose snapshot went in full (the rest by the id the API had named)
      snapshotsInFull: rounds.slice(1).reduce((n, r) => n + r.inFull, 0),
    };
  } finally {
    pool.destroy();
    await copyClient.end();
    await api.close();
    await prisma.$disconnect();
  }
}

interface Upload {
  readonly cluster: number;
  /** `{ events }` of one batch, gzipped. */
  readonly body: Buffer;
}

interface Round {
  readonly uploads: readonly Upload[];
  readonly events: number;
  /** Events that carry their snapshot in full (the others send its id). */
  readonly inFull: number;
  /** The same events as COPY text rows. */
  readonly copyText: Buffer;
}

/** Uploads the batches with `inFlight` requests at a time; fails on any answer other than 200. */
async function uploadAll(
  batches: readonly Upload[],
  inFlight: number,
  send: (b: Upload) => Promise<number>,
  latencies: number[],
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        const t0 = process.hrtime.bigint();
        const status = await send(batch);
        if (status !== 200) throw new Error(`upload answered ${status}`);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
}

/** The ceiling: rows as a plain COPY into the same partitioned table (no rollups, no snapshots table, no validation). */
class CopyLoader {
  // the ingest's own hasher: canonical JSON only for snapshots it has not seen
  private readonly hasher = new SnapshotHasher();

  constructor(
    private readonly tenantId: string,
    private readonly cloudScopeId: string,
    private readonly clusterIds: readonly string[],
  ) {}

  /** The id the API stores a snapshot under. */
  snapshotId(snapshot: Readonly<Record<string, unknown>>): string {
    return this.hasher.hash(snapshot).hash;
  }

  /** COPY text rows (no newline) of one batch's events from the cluster numbered `cluster`. */
  lines(cluster: number, events: readonly AdmissionEvent[]): string[] {
    const clusterId = this.clusterIds[cluster]!;
    return events.map((e) =>
      [
        this.tenantId,
        e.occurredAt,
        e.eventId,
        clusterId,
        this.cloudScopeId,
        e.namespace ?? '',
        e.kind,
        e.apiVersion,
        e.name,
        e.uid ?? null,
        e.requestUid ?? null,
        e.owner.kind,
        e.owner.name,
        e.operation,
        String(e.dryRun),
        e.decision,
        String(e.bundleRevision),
        e.requestingUser.username,
        arr(e.requestingUser.groups ?? []),
        arr(e.images),
        arr(terms(clusterId, e)),
        JSON.stringify(e.findings),
        e.snapshot ? `\\x${this.snapshotId(e.snapshot)}` : e.snapshotHash !== undefined ? `\\x${e.snapshotHash}` : null,
      ]
        .map(f)
        .join('\t'),
    );
  }

  /** Loads `text`; resolves with the seconds it took. */
  async load(client: Client, text: Buffer): Promise<number> {
    const started = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const stream = client.query(
        copyFrom(
          `COPY admission_events (tenant_id, occurred_at, event_id, cluster_id, cloud_scope_id, namespace, kind, api_version, name, uid, request_uid, owner_kind, owner_name, operation, dry_run, decision, bundle_revision, username, user_groups, images, terms, findings, snapshot_hash) FROM STDIN`,
        ),
      );
      stream.on('error', reject);
      stream.on('finish', () => resolve());
      stream.end(text);
    });
    return Number(process.hrtime.bigint() - started) / 1e9;
  }
}
