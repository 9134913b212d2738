/**
 * `npm run bench -- report [events]`: 10 million admissions over 30 days from 2,000
 * workloads in 50 namespaces (10 clusters), generated with generate_series straight
 * into admission_events, the rollups built from those events with the ingest's
 * semantics, and 100,000 distinct snapshots (50 versions per workload). Then
 * auditToDenyReport over 30 days through GraphQL (p95 of 30 calls) and
 * simulatePolicy of the current policy over every snapshot of the window.
 *
 * `npm run bench -- report [events] --reuse` keeps the generated data between runs while
 * iterating on the query side: when portcullis_bench_report holds data generated today
 * (UTC, the report window is relative to now) for the same event count, it is migrated
 * and measured again instead of re-generated (~10 minutes). Without `--reuse` (the
 * default) the database is dropped and generated again, so runs stay comparable.
 */
import { Client } from 'pg';
import { prepareSnapshot } from '@portcullis/contracts';
import type { AppConfig } from '@portcullis/config';
import type { PrismaClient } from '@portcullis/db';
import { from as copyFrom } from 'pg-copy-streams';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { startApi } from '@portcullis/testing';
import { benchPod, benchWorkloads } from './support/admissions';
import { benchDatabase, benchDatabaseUrl, openBenchDatabase, percentile, tenantWithClusters } from './support/stack';

const DAY = 86_400_000;
const DAYS = 30;
const WORKLOADS = 2000;
const VERSIONS = 50;

const DATABASE = 'portcullis_bench_report';
/**
 * What the generated rows look like; bump it when the generator changes, so `--reuse` never
 * measures data of an older shape. 2: no admission-level (policy '') rows in the per-workload
 * daily rollup — the ingest's rollup flush writes none, and the old generator's doubled the table.
 * 3: the per-workload rollup by month (admission_workload_months).
 */
const DATA_SHAPE = 3;

interface Generated {
  readonly tenantId: string;
  readonly policyId: string;
}

export async function run(args: readonly string[]): Promise<Record<string, unknown>> {
  const reuse = args.includes('--reuse');
  const positional = args.filter((a) => !a.startsWith('--'));
  const total = Number(positional[0] ?? 10_000_000);
  const today = Math.floor(Date.now() / DAY) * DAY;
  const kept = reuse ? await reusable(total, today) : undefined;
  if (kept) return measure(kept.config, kept.prisma, kept.generated, { reused: true });
  const { config, prisma } = await benchDatabase(DATABASE);
  const generated = await generate(config, prisma, total, today);
  return measure(config, prisma, generated.generated, { reused: false, generation: generated.timings });
}

/** The kept database, when it holds data generated today for `total` events. */
async function reusable(
  total: number,
  today: number,
): Promise<{ config: AppConfig; prisma: PrismaClient; generated: Generated } | undefined> {
  const db = new Client({ connectionString: benchDatabaseUrl(DATABASE) });
  let found: Generated | undefined;
  try {
    await db.connect();
    const { rows } = await db.query<{ tenant_id: string; policy_id: string }>(
      `SELECT tenant_id::text, policy_id FROM bench_report_meta WHERE total = $1 AND generated_day = $2::timestamptz AND shape = $3`,
      [total, new Date(today), DATA_SHAPE],
    );
    found = rows[0] && { tenantId: rows[0].tenant_id, policyId: rows[0].policy_id };
  } catch {
    found = undefined; // no database, or generated before the marker (or this data shape) existed
  } finally {
    await db.end().catch(() => undefined);
  }
  if (!found) {
    process.stderr.write(`bench report: no data of today for ${total} events in ${DATABASE}; generating it\n`);
    return undefined;
  }
  return { ...(await openBenchDatabase(DATABASE)), generated: found };
}

async function generate(
  config: AppConfig,
  prisma: PrismaClient,
  total: number,
  today: number,
): Promise<{ generated: Generated; timings: Record<string, number> }> {
  const { tenantId, cloudScopeId, clusterIds } = await tenantWithClusters(prisma, 10);
  const policy = await prisma.policy.findFirstOrThrow({
    where: { tenantId, isDefault: true, type: 'MISCONFIGURATION' },
  });
  // the workloads' findings are what the default policy finds in their pods
  await prisma.policyRule.updateMany({ where: { policyId: policy.id }, data: { enabled: false } });
  await prisma.policyRule.updateMany({
    where: {
      policyId: policy.id,
      ruleId: {
        in: [
          'resource-limits',
          'privileged-container',
          'run-as-non-root',
          'read-only-root-filesystem',
          'host-namespaces',
        ],
      },
    },
    data: { enabled: true },
  });
  const workloads = benchWorkloads(WORKLOADS, 50, VERSIONS);
  const db = new Client({ connectionString: config.databaseUrl });
  await db.connect();
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const out = await work();
    timings[name] = Math.round((Date.now() - t0) / 100) / 10;
    return out;
  };
  try {
    const start = today - (DAYS - 1) * DAY;
    const end = Date.now() - 60_000;
    for (let d = 0; d < DAYS; d++)
      await db.query('SELECT admission_events_ensure_partition($1::date)', [
        new Date(start + d * DAY).toISOString().slice(0, 10),
      ]);

    // 100,000 distinct snapshots, stored as ingest stores them (canonical JSON, SHA-256, gzip)
    const hashes: string[][] = [];
    await timed('snapshotsSeconds', async () => {
      const lines: string[] = [];
      for (let w = 0; w < WORKLOADS; w++) {
        hashes.push([]);
        for (let v = 0; v < VERSIONS; v++) {
          const s = prepareSnapshot(benchPod(workloads[w]!, v));
          hashes[w]!.push(s.hash);
          lines.push(
            `${tenantId}\t\\\\x${s.hash}\tPod\t\\\\x${gzipSync(s.canonical).toString('hex')}\t${s.canonical.length}\t${new Date(today).toISOString()}`,
          );
        }
      }
      await copy(
        db,
        'COPY admission_snapshots (tenant_id, hash, kind, body, json_bytes, last_seen_day) FROM STDIN',
        `${lines.join('\n')}\n`,
      );
    });
    await db.query(
      `CREATE TEMP TABLE bench_w (w int PRIMARY KEY, cluster uuid, ns text, name text, findings json, decision text, hashes text[])`,
    );
    await copy(
      db,
      'COPY bench_w FROM STDIN',
      workloads
        .map((wl, w) => {
          const findings = JSON.stringify(
            wl.rules.map((ruleId) => ({
              policyId: policy.id,
              policyName: policy.name,
              action: 'AUDIT',
              ruleId,
              container: 'app',
              path: 'spec.containers[0]',
              message: `container app breaks ${ruleId}`,
              exempted: false,
            })),
          );
          return [
            w,
            clusterIds[w % clusterIds.length],
            wl.namespace,
            wl.name,
            findings.replace(/\\/g, '\\\\'),
            wl.rules.length ? 'AUDITED' : 'ALLOWED',
            `{${hashes[w]!.join(',')}}`,
          ].join('\t');
        })
        .join('\n') + '\n',
    );

    // the events: workload n % 2000, evenly spread over the window, version moving with time
    const chunk = 1_000_000;
    await timed('eventsSeconds', async () => {
      for (let from = 0; from < total; from += chunk) {
        await db.query(
          `
          INSERT INTO admission_events (tenant_id, occurred_at, event_id, cluster_id, cloud_scope_id, namespace, kind, api_version, name, owner_kind, owner_name,
            operation, dry_run, decision, bundle_revision, username, user_groups, images, terms, findings, snapshot_hash)
          SELECT $1::uuid, to_timestamp(($2::float8 + n::float8 * $3::float8) / 1000), gen_random_uuid(), b.cluster, $4::uuid, b.ns, 'Pod', 'v1', '', 'Deployment', b.name,
            'CREATE', false, b.decision, 7, 'system:serviceaccount:kube-system:replicaset-controller', '{}', ARRAY['registry.example.com/' || b.name], '{}', b.findings,
            decode(b.hashes[1 + (n::bigint * ${VERSIONS} / $5::bigint)::int], 'hex')
          FROM generate_series($6::bigint, $7::bigint) AS n JOIN bench_w b ON b.w = n % ${WORKLOADS}`,
          [tenantId, start, (end - start) / total, cloudScopeId, total, from, Math.min(total, from + chunk) - 1],
        );
      }
    });

    // rollups from the events, with the ingest's semantics (every finding here is a non-exempted Audit one)
    await timed('rollupsSeconds', async () => {
      await db.query(`SET work_mem = '256MB'`);
      await db.query(
        `
        INSERT INTO admission_rollups_hourly (tenant_id, hour, cluster_id, namespace, policy_id, rule_id, decision, cloud_scope_id, admissions)
        SELECT tenant_id, date_trunc('hour', occurred_at, 'UTC'), cluster_id, namespace, p, r, d, cloud_scope_id, count(*)
        FROM admission_events e CROSS JOIN LATERAL (
          SELECT '' AS p, '' AS r, e.decision AS d
          UNION ALL SELECT $2::text, '', 'AUDITED' WHERE json_array_length(e.findings) > 0
          UNION ALL SELECT $2::text, f->>'ruleId', 'AUDITED' FROM json_array_elements(e.findings) f) k
        WHERE tenant_id = $1 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8`,
        [tenantId, policy.id],
      );
      await db.query(
        `
        INSERT INTO admission_workload_months (tenant_id, policy_id, month, cluster_id, namespace, owner_kind, owner_name, rule_id, decision, cloud_scope_id, admissions_through, last_at)
        SELECT tenant_id, p, date_trunc('month', day, 'UTC'), cluster_id, namespace, owner_kind, owner_name, r, d, (array_agg(cloud_scope_id))[1],
          admission_days_through(array_agg(extract(day FROM day AT TIME ZONE 'UTC')::int), array_agg(n)), max(last_at)
        FROM (
          SELECT tenant_id, p, date_trunc('day', occurred_at, 'UTC') AS day, cluster_id, namespace, owner_kind, owner_name, r, d, cloud_scope_id, count(*) AS n, max(occurred_at) AS last_at
          FROM admission_events e CROSS JOIN LATERAL (
            SELECT $2::text AS p, '' AS r, 'AUDITED' AS d WHERE json_array_length(e.findings) > 0
            UNION ALL SELECT $2::text, f->>'ruleId', 'AUDITED' FROM json_array_elements(e.findings) f) k
          WHERE tenant_id = $1 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
        ) per_day
        GROUP BY tenant_id, p, date_trunc('month', day, 'UTC'), cluster_id, namespace, owner_kind, owner_name, r, d`,
        [tenantId, policy.id],
      );
      await db.query(
        `
        INSERT INTO admission_snapshot_days (tenant_id, day, cluster_id, namespace, owner_kind, owner_name, snapshot_hash, cloud_scope_id, admissions, last_at)
        SELECT tenant_id, date_trunc('day', occurred_at, 'UTC'), cluster_id, namespace, owner_kind, owner_name, snapshot_hash, cloud_scope_id, count(*), max(occurred_at)
        FROM admission_events WHERE tenant_id = $1 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8`,
        [tenantId],
      );
      await db.query(
        'VACUUM ANALYZE admission_rollups_hourly, admission_workload_months, admission_snapshot_days, admission_snapshots',
      );
    });
    // what `--reuse` recognises: written last, so an interrupted generation is never reused
    await db.query(
      'CREATE TABLE bench_report_meta (total bigint NOT NULL, generated_day timestamptz NOT NULL, tenant_id uuid NOT NULL, policy_id text NOT NULL, shape int NOT NULL)',
    );
    await db.query('INSERT INTO bench_report_meta VALUES ($1, $2, $3, $4, $5)', [
      total,
      new Date(today),
      tenantId,
      policy.id,
      DATA_SHAPE,
    ]);
    return { generated: { tenantId, policyId: policy.id }, timings };
  } finally {
    await db.end();
  }
}

async function measure(
  config: AppConfig,
  prisma: PrismaClient,
  { tenantId, policyId }: Generated,
  extra: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const db = new Client({ connectionString: config.databaseUrl });
  await db.connect();
  const policy = { id: policyId };
  try {
    const api = await startApi({
      DATABASE_URL: config.databaseUrl,
      REDIS_PREFIX: config.redisPrefix,
      BUNDLE_SIGNING_KEYS_DIR: config.bundles.signingKeysDir,
      LOG_LEVEL: 'error',
    });
    try {
      const ownerId = (await prisma.roleAssignment.findFirstOrThrow({ where: { tenantId, role: 'OWNER' } }))
        .principalId;
      const token = await api.token(tenantId, ownerId, 'bench');
      const query = `query($p: ID!) { auditToDenyReport(policyId: $p, days: ${DAYS}) { wouldDenyAdmissions wouldDenyWorkloads byRule { key admissions workloads }
        byNamespace { key admissions workloads } byCluster { key admissions workloads } byWorkload { name admissions lastViolationAt rules }
        dailyTrend { day admissions workloads } readiness { ready exemptionsNeeded suggestedExemptions { name admissions } } } }`;
      const times: number[] = [];
      let report: { wouldDenyAdmissions: number; wouldDenyWorkloads: number } | undefined;
      let reportCpu = { process: 0, backends: 0 };
      for (let i = 0; i < 33; i++) {
        if (i === 3) reportCpu = await cpuNow(db);
        const t0 = process.hrtime.bigint();
        const res = await api.gql<{ auditToDenyReport: { wouldDenyAdmissions: number; wouldDenyWorkloads: number } }>(
          token,
          query,
          { p: policy.id },
        );
        if (res.errors) throw new Error(JSON.stringify(res.errors));
        if (i >= 3) times.push(Number(process.hrtime.bigint() - t0) / 1e6); // three warm-up calls
        report = res.data!.auditToDenyReport;
      }
      const reportCpuEnd = await cpuNow(db);
      times.sort((a, b) => a - b);
      const simTimes: number[] = [];
      const simCpu: Array<{ process: number; backends: number }> = [];
      let sim: { snapshotsEvaluated: number; flipCount: number; report: { wouldDenyAdmissions: number } } | undefined;
      for (let i = 0; i < 3; i++) {
        const cpu0 = await cpuNow(db);
        const t0 = process.hrtime.bigint();
        const res = await api.gql<{ simulatePolicy: NonNullable<typeof sim> }>(
          token,
          `query($d: PolicyDraftInput!) { simulatePolicy(draft: $d, days: ${DAYS}) { snapshotsEvaluated flipCount report { wouldDenyAdmissions wouldDenyWorkloads } } }`,
          { d: { policyId: policy.id } },
        );
        if (res.errors) throw new Error(JSON.stringify(res.errors));
        simTimes.push(Number(process.hrtime.bigint() - t0) / 1e9);
        const cpu1 = await cpuNow(db);
        simCpu.push({ process: round2(cpu1.process - cpu0.process), backends: round2(cpu1.backends - cpu0.backends) });
        sim = res.data!.simulatePolicy;
      }
      simTimes.sort((a, b) => a - b);
      const [{ n: events }] = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM admission_events'))
        .rows as [{ n: number }];
      return {
        events,
        days: DAYS,
        workloads: WORKLOADS,
        namespaces: 50,
        p50Ms: Math.round(percentile(times, 50)),
        p95Ms: Math.round(percentile(times, 95)),
        simulateSeconds: Math.round(simTimes[1]! * 100) / 100,
        simulateSecondsAll: simTimes.map((s) => Math.round(s * 100) / 100),
        // CPU seconds of this process (API and bench client) and of the database's PostgreSQL backends, per call in call order
        simulateCpuSeconds: simCpu,
        reportCpuMsPerCall: {
          process: Math.round(((reportCpuEnd.process - reportCpu.process) * 1000) / times.length),
          backends: Math.round(((reportCpuEnd.backends - reportCpu.backends) * 1000) / times.length),
        },
        snapshotsEvaluated: sim!.snapshotsEvaluated,
        simulateFlips: sim!.flipCount,
        wouldDenyAdmissions: report!.wouldDenyAdmissions,
        simulatedWouldDenyAdmissions: sim!.report.wouldDenyAdmissions,
        wouldDenyWorkloads: report!.wouldDenyWorkloads,
        ...extra,
      };
    } finally {
      await api.close();
    }
  } finally {
    await db.end();
    await prisma.$disconnect();
  }
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** CPU seconds used so far by this process and by the PostgreSQL backends connected to the bench database (from /proc; 0 where unreadable). */
async function cpuNow(db: Client): Promise<{ process: number; backends: number }> {
  const u = process.cpuUsage();
  const { rows } = await db.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
  );
  let ticks = 0;
  for (const { pid } of rows) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // the backend ended meanwhile
    }
  }
  return { process: (u.user + u.system) / 1e6, backends: ticks / 100 };
}

function copy(db: Client, sql: string, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = db.query(copyFrom(sql));
    stream.on('error', reject);
    stream.on('finish', () => resolve());
    stream.end(Buffer.from(text));
  });
}
