import type { PoolClient } from 'pg';
import { Prisma, type SqlPool, type TenantTx } from '@portcullis/db';
import { EVENT_ROW_TYPE } from './event-rows';
import { INGEST_NEW, INGEST_RESENT } from './ingest-sql';
import { workloadMonthsInWindow } from './workload-months';

/** One stored admission event as the inventory lists it. */
export interface StoredEvent {
  event_id: string;
  occurred_at: Date;
  received_at: Date;
  cluster_id: string;
  cloud_scope_id: string;
  namespace: string;
  kind: string;
  api_version: string;
  name: string;
  operation: string;
  dry_run: boolean;
  decision: string;
  bundle_revision: number | null;
  owner_kind: string;
  owner_name: string;
  username: string;
  images: string[];
  findings: unknown;
  has_snapshot: boolean;
}

export interface EventQuery {
  readonly from: Date;
  readonly to: Date;
  /** The caller's readable scopes (and the requested one): a condition on cloud_scope_id. */
  readonly scope: Prisma.Sql;
  /** Filter terms every event must hold (filterTerms of @portcullis/contracts). */
  readonly terms: readonly string[];
  readonly decision?: string;
  /** Keyset position: events strictly older than (at, id). */
  readonly after?: { readonly at: Date; readonly id: string };
  readonly limit: number;
}

/** A dimension of the hourly rollup an admission summary groups by. */
export type SummaryDimension =
  'CLOUD_SCOPE' | 'CLUSTER' | 'NAMESPACE' | 'POLICY' | 'RULE' | 'DECISION' | 'HOUR' | 'DAY';

/** One group of a summary: the dimensions it was not grouped by are null. */
export interface SummaryGroup {
  readonly cloudScopeId: string | null;
  readonly clusterId: string | null;
  readonly namespace: string | null;
  readonly policyId: string | null;
  readonly ruleId: string | null;
  readonly decision: string | null;
  readonly period: Date | null;
  readonly admissions: number;
}

/**
 * One workload's row of the audit-to-deny statement: its policy-level would-be denials over the
 * window (all of them, and those since readyFrom), the last one (epoch ms), its days as
 * `first:base,t1,t2,...` segments (one per month row; `first` is the window index of t1,
 * `base` the running total before it), and the rules that would have denied it with
 * their admissions.
 */
export type AuditToDenyRow = [
  cluster: string,
  namespace: string,
  kind: string,
  name: string,
  admissions: string,
  recent: string,
  lastAt: string | null,
  days: string | null,
  rules: string[] | null,
  ruleAdmissions: string | null,
];

/**
 * One row of the simulation cursor: a distinct (snapshot, namespace, workload) of the
 * window — what the engine evaluates once — with every snapshot-day it stands for,
 * packed by SQL into one text (`cluster day-ms admissions last-ms in-scope`, comma-separated).
 */
export type SimulationRow = [
  hash: string,
  namespace: string,
  ownerKind: string,
  ownerName: string,
  inScope: boolean,
  entries: string,
  body: Buffer | null,
];

/** Consumes cursor chunks in order: `start` begins a chunk's work and resolves to the step that finishes it. */
export interface ChunkConsumer<Row> {
  start(rows: readonly Row[]): Promise<() => Promise<void>>;
}

export interface SimulationQuery {
  readonly window: { readonly from: Date; readonly to: Date; readonly readyFrom: Date };
  readonly scope: Prisma.Sql;
  /** The policy whose recorded outcome is compared, or null for a new one. */
  readonly policyId: string | null;
  /** The draft's cluster and cloud-scope restriction (both empty: every cluster). */
  readonly clusterIds: readonly string[];
  readonly cloudScopeIds: readonly string[];
  readonly chunkRows: number;
}

export interface SimulationRecord {
  /** Admissions of the window (policy-independent rollup rows). */
  readonly total: number;
  /** Workloads (cluster, namespace, kind, name) the policy's recorded outcome denied or would have. */
  readonly current: Array<[string, string, string, string]>;
}

/** What one ingest statement stored. */
export interface StoredBatch {
  readonly inserted: number;
  /** Referenced snapshot ids the tenant does not hold. */
  readonly unknown: ReadonlySet<string>;
}

/**
 * The admission inventory's SQL, in one place: the ingest statement, the rollup fold, the
 * queries and reports, and partition and retention maintenance. Services keep the domain
 * (validation, visibility, scheduling, report shapes) and call one method per statement or
 * transaction. Tenant work runs under row-level security (SqlPool.inTenant, or the caller's
 * tenant-bound Prisma transaction); platform work as the owner names the tenant it touches.
 */
export class InventoryStore {
  constructor(private readonly sql: SqlPool) {}

  // --- ingest --------------------------------------------------------------------------

  /** The OID of admission_event_row in this database (the events parameter names it), or null before the migrations. */
  async eventRowTypeOid(): Promise<number | null> {
    const [row] = await this.sql.asOwner<{ oid: number | null }>('SELECT to_regtype($1)::oid AS oid', [EVENT_ROW_TYPE]);
    return row?.oid == null ? null : Number(row.oid);
  }

  /** Creates the events partition of `day` (YYYY-MM-DD) if missing: DDL, as the owner. True when it was created. */
  async ensurePartition(day: string): Promise<boolean> {
    const [row] = await this.sql.asOwner<{ created: boolean }>(
      'SELECT admission_events_ensure_partition($1::date) AS created',
      [day],
    );
    return row?.created === true;
  }

  /**
   * Stores one batch with the ingest statement (ingest-sql.ts) in a tenant-bound transaction:
   * `params` are the events (EventRowsEncoder), the new and the referenced snapshots (JSON).
   * `resent`: the batch holds an event already stored (see isResentBatch).
   */
  storeBatch(
    batch: {
      readonly tenantId: string;
      readonly clusterId: string;
      readonly cloudScopeId: string;
      readonly params: readonly [Buffer, string, string];
    },
    resent: boolean,
  ): Promise<StoredBatch> {
    const statement = resent ? INGEST_RESENT : INGEST_NEW;
    return this.sql.inTenant(batch.tenantId, async (client) => {
      // named: each pooled connection parses and plans the statement once, not per batch
      const out = await client.query<{ inserted: number; unknown: string[] }>({
        ...statement,
        values: [batch.tenantId, batch.clusterId, batch.cloudScopeId, ...batch.params],
      });
      const row = out.rows[0];
      return { inserted: Number(row?.inserted ?? 0), unknown: new Set(row?.unknown ?? []) };
    });
  }

  // --- rollups -------------------------------------------------------------------------

  /**
   * Folds one part of the staged rollup contributions (admission_rollups_flush: one atomic
   * DELETE … RETURNING + upserts), of one tenant or (null) all. Rows folded, or -1 when the
   * part's lock was busy and `wait` is false.
   */
  async foldStagedPart(tenantId: string | null, wait: boolean, part: number): Promise<number> {
    const [row] = await this.sql.asOwner<{ folded: number }>(
      'SELECT admission_rollups_flush($1::uuid, $2::boolean, $3::integer) AS folded',
      [tenantId, wait, part],
      'portcullis_rollups_flush_part',
    );
    return Number(row?.folded ?? 0);
  }

  /** Folds every part for every tenant in one call (wait = false: -1 at once when another process is folding). */
  async foldStaged(wait: boolean): Promise<number> {
    const [row] = await this.sql.asOwner<{ folded: number }>(
      'SELECT admission_rollups_flush(NULL, $1::boolean) AS folded',
      [wait],
    );
    return Number(row?.folded ?? 0);
  }

  /** Staging rows live for a fraction of a second: the table is mostly dead rows unless vacuumed often. */
  async vacuumStaging(): Promise<void> {
    await this.sql.asOwner('VACUUM (SKIP_LOCKED) admission_rollup_staging');
  }

  // --- queries (in the caller's tenant-bound Prisma transaction) ------------------------

  /** A page of events, newest first (limit + 1 rows: the extra one says there is more), and how many match. */
  async events(tx: TenantTx, q: EventQuery): Promise<{ rows: StoredEvent[]; total: number }> {
    const where = Prisma.sql`occurred_at >= ${q.from} AND occurred_at < ${q.to} AND ${q.scope}
      ${q.terms.length ? Prisma.sql`AND terms @> ${q.terms}::text[]` : Prisma.empty}
      ${q.decision ? Prisma.sql`AND decision = ${q.decision}` : Prisma.empty}`;
    const rows = await tx.$queryRaw<StoredEvent[]>`
      SELECT event_id, occurred_at, received_at, cluster_id, cloud_scope_id, namespace, kind, api_version, name, operation, dry_run,
             decision, bundle_revision, owner_kind, owner_name, username, images, findings,
             -- an event may refer to a snapshot id the tenant does not hold (the ingest reports it to the agent)
             EXISTS (SELECT 1 FROM admission_snapshots s WHERE s.tenant_id = e.tenant_id AND s.hash = e.snapshot_hash) AS has_snapshot
      FROM admission_events e WHERE ${where}
      ${q.after ? Prisma.sql`AND (occurred_at, event_id) < (${q.after.at}, ${q.after.id}::uuid)` : Prisma.empty}
      ORDER BY occurred_at DESC, event_id DESC LIMIT ${q.limit + 1}`;
    const [{ n }] = await tx.$queryRaw<[{ n: number }]>`SELECT count(*)::int AS n FROM admission_events WHERE ${where}`;
    return { rows, total: n };
  }

  /**
   * Admissions of the hourly rollup in [from, to) grouped by `dims` (largest first, at most
   * `limit` groups), and the total of the window. The rollup holds one level per row kind:
   * with RULE the rule rows, with POLICY the policy rows, else the admission rows.
   */
  async summary(
    tx: TenantTx,
    q: {
      readonly from: Date;
      readonly to: Date;
      readonly dims: readonly SummaryDimension[];
      readonly scope: Prisma.Sql;
      readonly limit: number;
    },
  ): Promise<{ groups: SummaryGroup[]; total: number }> {
    const level = q.dims.includes('RULE')
      ? Prisma.sql`policy_id <> '' AND rule_id <> ''`
      : q.dims.includes('POLICY')
        ? Prisma.sql`policy_id <> '' AND rule_id = ''`
        : Prisma.sql`policy_id = ''`;
    const columns = q.dims.map((d) => Prisma.raw(`${COLUMN[d]} AS ${ALIAS[d]}`));
    const groupBy = q.dims.map((d) => Prisma.raw(ALIAS[d]));
    const rows = await tx.$queryRaw<Array<Record<string, unknown> & { admissions: number }>>`
      SELECT ${Prisma.join([...columns, Prisma.sql`sum(admissions)::int AS admissions`])}
      FROM admission_rollups_hourly
      WHERE hour >= ${q.from} AND hour < ${q.to} AND ${level} AND ${q.scope}
      ${groupBy.length ? Prisma.sql`GROUP BY ${Prisma.join(groupBy)}` : Prisma.empty}
      ORDER BY admissions DESC LIMIT ${q.limit}`;
    const [{ total }] = await tx.$queryRaw<[{ total: number }]>`
      SELECT coalesce(sum(admissions), 0)::int AS total FROM admission_rollups_hourly
      WHERE hour >= ${q.from} AND hour < ${q.to} AND policy_id = '' AND ${q.scope}`;
    const groups = rows.map((r) => ({
      cloudScopeId: (r['cloud_scope'] as string | undefined) ?? null,
      clusterId: (r['cluster'] as string | undefined) ?? null,
      namespace: (r['ns'] as string | undefined) ?? null,
      policyId: (r['policy'] as string | undefined) ?? null,
      ruleId: (r['rule'] as string | undefined) ?? null,
      decision: (r['decision'] as string | undefined) ?? null,
      period: (r['period'] as Date | undefined) ?? null,
      admissions: r.admissions,
    }));
    return { groups, total };
  }

  // --- reports (plain pg under the tenant's row-level security: no ORM row mapping) -----

  /**
   * One statement over the policy's per-workload month rows of the window (at most two per
   * workload and rule for 30 days, four for 90): each row's share of the window is two
   * subscripts of its running totals, summed per workload and rule, then per workload.
   */
  auditToDenyRows(
    tenantId: string,
    policyId: string,
    window: { readonly from: Date; readonly to: Date; readonly readyFrom: Date },
    scope: Prisma.Sql,
  ): Promise<AuditToDenyRow[]> {
    const months = workloadMonthsInWindow(
      policyId,
      window,
      Prisma.sql`tenant_id = ${tenantId}::uuid AND decision IN ('AUDITED', 'DENIED') AND ${scope}`,
    );
    const sql = Prisma.sql`
      WITH m AS ${months},
      per_rule AS (
        SELECT cluster_id, namespace, owner_kind, owner_name, rule_id,
               sum(t[hi] - coalesce(t[lo - 1], 0)) AS admissions,
               sum(CASE WHEN rlo <= hi THEN t[hi] - coalesce(t[rlo - 1], 0) ELSE 0 END) AS recent,
               max(last_at) AS last_at,
               string_agg(CASE WHEN rule_id = '' THEN concat(b + lo - 1, ':', coalesce(t[lo - 1], 0), ',', array_to_string(t[lo:hi], ',')) END, ';') AS days
        FROM m
        GROUP BY cluster_id, namespace, owner_kind, owner_name, rule_id
        HAVING sum(t[hi] - coalesce(t[lo - 1], 0)) > 0
      )
      SELECT cluster_id::text, namespace, owner_kind, owner_name,
             coalesce(max(admissions) FILTER (WHERE rule_id = ''), 0)::text, coalesce(max(recent) FILTER (WHERE rule_id = ''), 0)::text,
             (date_part('epoch', max(last_at) FILTER (WHERE rule_id = '')) * 1000)::bigint::text, max(days),
             array_agg(rule_id) FILTER (WHERE rule_id <> ''), string_agg(admissions::text, ',') FILTER (WHERE rule_id <> '')
      FROM per_rule
      GROUP BY cluster_id, namespace, owner_kind, owner_name`;
    return this.sql.inTenant(
      tenantId,
      async (client) =>
        (await client.query<AuditToDenyRow>({ text: sql.text, values: sql.values, rowMode: 'array' })).rows,
    );
  }

  /**
   * The recorded side of a simulation, in one tenant-bound transaction: the window's
   * admissions, the workloads the policy's recorded outcome counted, and every distinct
   * (snapshot, namespace, workload) with its snapshot-days and body, streamed to `consumer`.
   */
  simulationRecord(
    tenantId: string,
    q: SimulationQuery,
    consumer: ChunkConsumer<SimulationRow>,
  ): Promise<SimulationRecord> {
    const w = q.window;
    return this.sql.inTenant(tenantId, async (client) => {
      const totalSql = Prisma.sql`
        SELECT coalesce(sum(admissions), 0)::int AS total FROM admission_rollups_hourly
        WHERE hour >= ${w.from} AND hour < ${w.to} AND policy_id = '' AND ${q.scope}`;
      const [{ total }] = (await client.query<{ total: number }>(totalSql.text, totalSql.values)).rows as [
        { total: number },
      ];
      const currentSql = q.policyId
        ? Prisma.sql`
          SELECT cluster_id::text, namespace, owner_kind, owner_name
          FROM ${workloadMonthsInWindow(q.policyId, w, Prisma.sql`rule_id = '' AND decision IN ('AUDITED', 'DENIED') AND ${q.scope}`)} m
          GROUP BY cluster_id, namespace, owner_kind, owner_name
          HAVING sum(t[hi] - coalesce(t[lo - 1], 0)) > 0`
        : null;
      const current = currentSql
        ? (
            await client.query<[string, string, string, string]>({
              text: currentSql.text,
              values: currentSql.values,
              rowMode: 'array',
            })
          ).rows
        : [];
      // each distinct (snapshot, namespace, workload) once, with the snapshot-days it stands for;
      // the draft's cluster and cloud-scope restriction is applied per snapshot-day
      const inDraft =
        q.clusterIds.length === 0 && q.cloudScopeIds.length === 0
          ? Prisma.sql`TRUE`
          : Prisma.sql`(cluster_id::text = ANY(${q.clusterIds}::text[]) OR cloud_scope_id::text = ANY(${q.cloudScopeIds}::text[]))`;
      // no order asked for: the planner may hash the bodies once (~40% less PostgreSQL CPU than a
      // primary-key lookup per row) or look them up, whichever is cheaper for the tenant's data
      const cursor = Prisma.sql`
        SELECT encode(k.snapshot_hash, 'base64'), k.namespace, k.owner_kind, k.owner_name, k.in_scope, k.entries, CASE WHEN k.in_scope THEN s.body END
        FROM (
          SELECT snapshot_hash, namespace, owner_kind, owner_name, bool_or(in_scope) AS in_scope,
                 string_agg(concat_ws(' ', cluster_id, (date_part('epoch', day) * 1000)::bigint, admissions, (date_part('epoch', last_at) * 1000)::bigint, in_scope::int), ',') AS entries
          FROM (SELECT *, ${inDraft} AS in_scope FROM admission_snapshot_days WHERE day >= ${w.from} AND day < ${w.to} AND ${q.scope}) d
          GROUP BY snapshot_hash, namespace, owner_kind, owner_name
        ) k LEFT JOIN admission_snapshots s ON s.hash = k.snapshot_hash`;
      // the snapshot-days (~160,000 rows a month at 2,000 workloads) are grouped, and the bodies hashed, in memory
      await client.query("SET LOCAL work_mem = '64MB'");
      await streamCursor(client, cursor.text, cursor.values, q.chunkRows, consumer);
      return { total, current };
    });
  }

  // --- maintenance (platform work as the owner: every statement names its tenant) -------

  /** The daily partitions of admission_events that exist, oldest first. */
  async partitions(): Promise<string[]> {
    const rows = await this.sql.asOwner<{ name: string }>(`
      SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'admission_events'::regclass ORDER BY c.relname`);
    return rows.map((r) => r.name).filter((n) => DAILY_PARTITION.test(n));
  }

  /** Drops a daily partition (a name partitions() returned). */
  async dropPartition(name: string): Promise<void> {
    if (!DAILY_PARTITION.test(name)) throw new Error(`not a daily admission_events partition: ${JSON.stringify(name)}`);
    await this.sql.executeAsOwner(`DROP TABLE IF EXISTS "${name}"`);
  }

  /** Deletes the tenant's events before `cutoff` from the partitions kept; rows deleted. */
  deleteEventsBefore(tenantId: string, cutoff: Date): Promise<number> {
    return this.sql.executeAsOwner('DELETE FROM admission_events WHERE tenant_id = $1::uuid AND occurred_at < $2', [
      tenantId,
      cutoff,
    ]);
  }

  /**
   * Deletes the tenant's rollup rows before `cutoff` (a UTC midnight): hourly rows, snapshot-days,
   * and per-workload month rows (months wholly before it go; the month it falls in loses its
   * days before it, their running totals taken out of the later days, and goes too when nothing
   * is left). Rows deleted.
   */
  async deleteRollupsBefore(tenantId: string, cutoff: Date): Promise<number> {
    let deleted = await this.sql.executeAsOwner(
      'DELETE FROM admission_rollups_hourly WHERE tenant_id = $1::uuid AND hour < $2',
      [tenantId, cutoff],
    );
    deleted += await this.dropWorkloadDays(tenantId, cutoff);
    deleted += await this.sql.executeAsOwner(
      'DELETE FROM admission_snapshot_days WHERE tenant_id = $1::uuid AND day < $2',
      [tenantId, cutoff],
    );
    return deleted;
  }

  /**
   * Deletes the tenant's snapshots last seen before `cutoff`, but never one a running workload
   * refers to (running_workloads, the background audit: simulation re-evaluates it); rows deleted.
   */
  deleteSnapshotsBefore(tenantId: string, cutoff: Date): Promise<number> {
    return this.sql.executeAsOwner(
      `DELETE FROM admission_snapshots s WHERE s.tenant_id = $1::uuid AND s.last_seen_day < $2
         AND NOT EXISTS (SELECT 1 FROM running_workloads r WHERE r.tenant_id = s.tenant_id AND r.snapshot_hash = s.hash)`,
      [tenantId, cutoff],
    );
  }

  private async dropWorkloadDays(tenantId: string, cutoff: Date): Promise<number> {
    const month = new Date(Date.UTC(cutoff.getUTCFullYear(), cutoff.getUTCMonth(), 1));
    const daysBefore = cutoff.getUTCDate() - 1;
    let deleted = await this.sql.executeAsOwner(
      'DELETE FROM admission_workload_months WHERE tenant_id = $1::uuid AND month < $2',
      [tenantId, month],
    );
    if (daysBefore > 0) {
      await this.sql.executeAsOwner(
        `UPDATE admission_workload_months SET admissions_through = admission_days_drop_through(admissions_through, $3::int)
         WHERE tenant_id = $1::uuid AND month = $2 AND admissions_through[$3::int] > 0`,
        [tenantId, month, daysBefore],
      );
      deleted += await this.sql.executeAsOwner(
        'DELETE FROM admission_workload_months WHERE tenant_id = $1::uuid AND month = $2 AND admissions_through[31] = 0',
        [tenantId, month],
      );
    }
    return deleted;
  }
}

/** The ingest statement met an event that is already stored: unique_violation on an events partition's key. */
export function isResentBatch(err: unknown): boolean {
  const e = err as { code?: unknown; table?: unknown };
  return e.code === '23505' && typeof e.table === 'string' && e.table.startsWith('admission_events');
}

/** The ingest statement met a day whose partition does not exist (dropped by retention meanwhile). */
export function isMissingPartition(err: unknown): boolean {
  return /no partition of relation/.test(err instanceof Error ? err.message : String(err));
}

const DAILY_PARTITION = /^admission_events_p(\d{4})(\d{2})(\d{2})$/;

const COLUMN: Record<SummaryDimension, string> = {
  CLOUD_SCOPE: 'cloud_scope_id',
  CLUSTER: 'cluster_id',
  NAMESPACE: 'namespace',
  POLICY: 'policy_id',
  RULE: 'rule_id',
  DECISION: 'decision',
  HOUR: 'hour',
  DAY: "date_trunc('day', hour, 'UTC')",
};
const ALIAS: Record<SummaryDimension, string> = {
  CLOUD_SCOPE: 'cloud_scope',
  CLUSTER: 'cluster',
  NAMESPACE: 'ns',
  POLICY: 'policy',
  RULE: 'rule',
  DECISION: 'decision',
  HOUR: 'period',
  DAY: 'period',
};

/**
 * Runs `sql` as a cursor in the client's transaction, `chunkRows` rows per FETCH, as a
 * pipeline: while chunk n is evaluated on the event loop, chunk n+1 is inflated on the
 * thread pool and PostgreSQL already sends chunk n+2.
 */
export async function streamCursor<Row extends unknown[]>(
  client: PoolClient,
  sql: string,
  values: readonly unknown[],
  chunkRows: number,
  consumer: ChunkConsumer<Row>,
): Promise<void> {
  await client.query(`DECLARE portcullis_simulation NO SCROLL CURSOR FOR ${sql}`, values as unknown[]);
  const fetch = (): Promise<Row[]> =>
    client.query<Row>({ text: `FETCH ${chunkRows} FROM portcullis_simulation`, rowMode: 'array' }).then((r) => r.rows);
  let next: Promise<Row[]> | undefined = fetch();
  let finishing: Promise<() => Promise<void>> | undefined;
  try {
    while (next) {
      const rows: Row[] = await next;
      next = rows.length === chunkRows ? fetch() : undefined;
      const started = rows.length ? consumer.start(rows) : undefined;
      started?.catch(() => undefined); // awaited below; a failure must not count as unhandled meanwhile
      if (finishing) await (await finishing)();
      finishing = started;
    }
    if (finishing) await (await finishing)();
  } finally {
    // an evaluation that threw leaves a fetch in flight: let it land before the rollback
    if (next) await next.catch(() => undefined);
  }
  await client.query('CLOSE portcullis_simulation');
}
