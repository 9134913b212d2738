import { Inject, Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import {
  WORKLOAD_REPORT_LIMITS,
  prepareSnapshot,
  validateWorkloadReport,
  workloadKey,
  type RunningWorkload,
  type WorkloadReport,
  type WorkloadReportResult,
} from '@portcullis/contracts';
import { CLOCK, DomainError, type Clock } from '@portcullis/platform';
import type { AgentIdentity } from '../agent/agent-auth.guard';
import { startOfDay } from '../inventory/admission-event-ingestor';
import { compressSnapshot } from '../inventory/snapshot-codec';
import { instantMs } from '../platform/instant';
import { SqlPool } from '../platform/sql-pool';
import { pgJson } from './pg-json';

/** Agent clocks may run a little ahead; a report further in the future is an agent bug. */
const MAX_CLOCK_AHEAD_MS = 10 * 60_000;
/** Applied report ids are kept this long: a re-send within it is acknowledged, not applied again. */
const REPORT_IDS_KEPT = '1 day';
/** Rows per insert statement when a FULL sync replaces a cluster's state. */
const INSERT_CHUNK = 1000;
const NOTHING_STORED = 'nothing was stored';

/** A workload as staged and applied: the report's fields without the snapshot (stored apart, by its hash). */
interface StagedWorkload {
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespace: string | null;
  readonly name: string;
  readonly uid: string;
  readonly pods: number;
  readonly images: readonly string[];
  readonly snapshotHash: string;
  readonly violations: RunningWorkload['violations'];
}

interface ClusterStateRow extends Record<string, unknown> {
  readonly sync_id: string | null;
  readonly sync_started_at: Date | null;
}

interface Previous {
  /** workload key -> uid and first_seen_at */
  readonly workloads: Map<string, { uid: string; firstSeenAt: Date }>;
  /** workload key + policy + rule + container -> since */
  readonly since: Map<string, Date>;
}

/**
 * Applies the background audit's reports (contract: libs/contracts/src/workload-report.ts) to the
 * current state of the agent's cluster: running_workloads and running_violations, replaced by each
 * report, in one transaction bound to the tenant (row-level security) that also records the
 * report id, so a report is applied whole and once. A FULL sync's pages are staged
 * (running_sync_pages) and replace the cluster's state atomically with its last page. Reports of
 * one cluster are serialised by a lock on its running_cluster_states row.
 */
@Injectable()
export class WorkloadReportIngestor {
  constructor(
    private readonly sql: SqlPool,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async ingest(agent: AgentIdentity, body: unknown): Promise<WorkloadReportResult> {
    const parsed = validateWorkloadReport(body);
    if (!parsed.ok) {
      const first = parsed.errors[0]!;
      throw new DomainError(
        'BAD_USER_INPUT',
        `${first.path}: ${first.message} (the report was rejected whole, ${NOTHING_STORED})`,
        first.path,
        { errors: parsed.errors },
      );
    }
    const report = parsed.value;
    const now = this.clock.now();
    const observed = instantMs(report.observedAt);
    if (observed === undefined)
      throw badReport('observedAt', `${report.observedAt} names no instant (a day its month does not have?)`);
    if (observed > now.getTime() + MAX_CLOCK_AHEAD_MS)
      throw badReport('observedAt', `${report.observedAt} is more than 10 minutes in the future (agent clock?)`);
    const snapshots = await this.snapshotsOf(report.workloads);

    return this.sql.inTenant(agent.tenantId, async (client) => {
      const state = await this.lockCluster(client, agent, now, observed);
      const fresh = await client.query(
        `INSERT INTO running_reports (tenant_id, report_id, cluster_id, received_at) VALUES ($1::uuid, $2::uuid, $3::uuid, $4)
         ON CONFLICT DO NOTHING`,
        [agent.tenantId, report.reportId, agent.clusterId, now],
      );
      if (fresh.rowCount === 0) return { accepted: true, duplicate: true, staged: false, unknownSnapshots: [] };
      await client.query(
        `DELETE FROM running_reports WHERE tenant_id = $1::uuid AND cluster_id = $2::uuid AND received_at < $3::timestamptz - interval '${REPORT_IDS_KEPT}'`,
        [agent.tenantId, agent.clusterId, now],
      );
      await this.storeSnapshots(client, agent.tenantId, snapshots, now);
      const unknownSnapshots = await this.unknownSnapshots(client, agent.tenantId, report.workloads);
      const workloads = report.workloads.map(staged);

      if (report.mode === 'DELTA') {
        await this.applyDelta(client, agent, report, workloads, now);
        return { accepted: true, duplicate: false, staged: false, unknownSnapshots };
      }
      const applied = await this.fullPage(client, agent, report, state, workloads, now);
      return { accepted: true, duplicate: false, staged: !applied, unknownSnapshots };
    });
  }

  /** Hashes (checked against snapshotHash) and compresses the snapshots sent, each once. */
  private async snapshotsOf(
    workloads: readonly RunningWorkload[],
  ): Promise<Map<string, { kind: string; body: Buffer; bytes: number }>> {
    const out = new Map<string, { kind: string; body: Buffer; bytes: number }>();
    for (let i = 0; i < workloads.length; i++) {
      const w = workloads[i]!;
      if (!w.snapshot || out.has(w.snapshotHash)) continue;
      let prepared;
      try {
        prepared = prepareSnapshot(w.snapshot);
      } catch (err) {
        const detail = err instanceof Error ? err.message.replace(/^\$/, 'snapshot') : String(err);
        throw badReport(`workloads[${i}].snapshot`, `cannot be stored (${detail})`);
      }
      if (prepared.hash !== w.snapshotHash)
        throw badReport(
          `workloads[${i}].snapshotHash`,
          `is not the id of the snapshot sent (prepareSnapshot of @portcullis/contracts gives ${prepared.hash})`,
        );
      out.set(prepared.hash, {
        kind: prepared.kind,
        body: await compressSnapshot(prepared.canonical),
        bytes: Buffer.byteLength(prepared.canonical),
      });
    }
    return out;
  }

  /** The cluster's state row, created on the first report and locked: one report of a cluster at a time. */
  private async lockCluster(
    client: PoolClient,
    agent: AgentIdentity,
    now: Date,
    observed: number,
  ): Promise<ClusterStateRow> {
    await client.query(
      `INSERT INTO running_cluster_states (tenant_id, cluster_id, cloud_scope_id, last_report_at, last_observed_at)
       VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5) ON CONFLICT DO NOTHING`,
      [agent.tenantId, agent.clusterId, agent.cloudScopeId, now, new Date(observed)],
    );
    const { rows } = await client.query<ClusterStateRow>(
      `SELECT sync_id::text, sync_started_at FROM running_cluster_states
       WHERE tenant_id = $1::uuid AND cluster_id = $2::uuid FOR UPDATE`,
      [agent.tenantId, agent.clusterId],
    );
    await client.query(
      `UPDATE running_cluster_states SET last_report_at = $3, last_observed_at = $4, cloud_scope_id = $5::uuid
       WHERE tenant_id = $1::uuid AND cluster_id = $2::uuid`,
      [agent.tenantId, agent.clusterId, now, new Date(observed), agent.cloudScopeId],
    );
    return rows[0]!;
  }

  private async storeSnapshots(
    client: PoolClient,
    tenantId: string,
    snapshots: ReadonlyMap<string, { kind: string; body: Buffer; bytes: number }>,
    now: Date,
  ): Promise<void> {
    if (snapshots.size === 0) return;
    const rows = [...snapshots].map(([h, s]) => ({ h, k: s.kind, b: s.body.toString('base64'), n: s.bytes }));
    await client.query(
      `INSERT INTO admission_snapshots AS s (tenant_id, hash, kind, body, json_bytes, last_seen_day)
       SELECT $1::uuid, decode(x.h, 'hex'), x.k, decode(x.b, 'base64'), x.n, $3::timestamptz
       FROM jsonb_to_recordset($2::jsonb) AS x(h text, k text, b text, n integer)
       ON CONFLICT (tenant_id, hash) DO UPDATE SET last_seen_day = greatest(s.last_seen_day, excluded.last_seen_day)`,
      [tenantId, pgJson(rows), new Date(startOfDay(now.getTime()))],
    );
  }

  /** Indexes of workloads sent without a snapshot whose snapshotHash the tenant holds no snapshot for. */
  private async unknownSnapshots(
    client: PoolClient,
    tenantId: string,
    workloads: readonly RunningWorkload[],
  ): Promise<number[]> {
    const refs = [...new Set(workloads.filter((w) => !w.snapshot).map((w) => w.snapshotHash))];
    if (refs.length === 0) return [];
    const { rows } = await client.query<{ h: string }>(
      `SELECT r.h FROM unnest($2::text[]) AS r(h)
       WHERE NOT EXISTS (SELECT 1 FROM admission_snapshots s WHERE s.tenant_id = $1::uuid AND s.hash = decode(r.h, 'hex'))`,
      [tenantId, refs],
    );
    const missing = new Set(rows.map((r) => r.h));
    const out: number[] = [];
    workloads.forEach((w, i) => {
      if (!w.snapshot && missing.has(w.snapshotHash)) out.push(i);
    });
    return out;
  }

  private async applyDelta(
    client: PoolClient,
    agent: AgentIdentity,
    report: WorkloadReport,
    workloads: readonly StagedWorkload[],
    now: Date,
  ): Promise<void> {
    const touched = [...workloads, ...report.removed];
    if (touched.length > 0) {
      const keys = keyArrays(touched);
      const previous = await this.previous(client, agent, keys);
      await client.query(
        `DELETE FROM running_workloads w USING unnest($3::text[], $4::text[], $5::text[]) AS k(kind, namespace, name)
         WHERE w.tenant_id = $1::uuid AND w.cluster_id = $2::uuid AND w.kind = k.kind AND w.namespace = k.namespace AND w.name = k.name`,
        [agent.tenantId, agent.clusterId, ...keys],
      );
      await this.insert(client, agent, workloads, report.bundleRevision, previous, now);
    }
    await client.query(
      `UPDATE running_cluster_states SET bundle_revision = $3 WHERE tenant_id = $1::uuid AND cluster_id = $2::uuid`,
      [agent.tenantId, agent.clusterId, report.bundleRevision],
    );
  }

  /** Stages a FULL page, or with the last page replaces the cluster's state; whether it was applied. */
  private async fullPage(
    client: PoolClient,
    agent: AgentIdentity,
    report: WorkloadReport,
    state: ClusterStateRow,
    workloads: readonly StagedWorkload[],
    now: Date,
  ): Promise<boolean> {
    const sync = report.sync!;
    const ttlMs = WORKLOAD_REPORT_LIMITS.syncTtlSeconds * 1000;
    const current =
      state.sync_id !== null &&
      state.sync_started_at !== null &&
      now.getTime() - state.sync_started_at.getTime() <= ttlMs
        ? state.sync_id.toLowerCase()
        : null;
    if (current !== sync.id.toLowerCase()) {
      if (sync.page !== 1) {
        throw new DomainError(
          'CONFLICT',
          `sync.page: page ${sync.page} of sync ${sync.id}, whose first page the API does not hold (not sent, older than ${WORKLOAD_REPORT_LIMITS.syncTtlSeconds / 60} minutes, or superseded by a newer sync); send the sync again from page 1; ${NOTHING_STORED}`,
          'sync.page',
          { restartSync: true },
        );
      }
      // a new sync: an older one still staged is abandoned
      await client.query(`DELETE FROM running_sync_pages WHERE tenant_id = $1::uuid AND cluster_id = $2::uuid`, [
        agent.tenantId,
        agent.clusterId,
      ]);
      await client.query(
        `UPDATE running_cluster_states SET sync_id = $3::uuid, sync_started_at = $4 WHERE tenant_id = $1::uuid AND cluster_id = $2::uuid`,
        [agent.tenantId, agent.clusterId, sync.id, now],
      );
    }
    if (!sync.last) {
      await client.query(
        `INSERT INTO running_sync_pages (tenant_id, cluster_id, sync_id, page, received_at, workloads)
         VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, $6::jsonb)
         ON CONFLICT (tenant_id, cluster_id, sync_id, page) DO UPDATE SET received_at = excluded.received_at, workloads = excluded.workloads`,
        [agent.tenantId, agent.clusterId, sync.id, sync.page, now, pgJson(workloads)],
      );
      return false;
    }
    const { rows } = await client.query<{ page: number; workloads: StagedWorkload[] }>(
      `SELECT page, workloads FROM running_sync_pages
       WHERE tenant_id = $1::uuid AND cluster_id = $2::uuid AND sync_id = $3::uuid AND page < $4 ORDER BY page`,
      [agent.tenantId, agent.clusterId, sync.id, sync.page],
    );
    const held = new Set(rows.map((r) => r.page));
    const missing: number[] = [];
    for (let p = 1; p < sync.page; p++) if (!held.has(p)) missing.push(p);
    if (missing.length > 0)
      throw new DomainError(
        'CONFLICT',
        `sync.page: the last page (${sync.page}) of sync ${sync.id} arrived, but page${missing.length > 1 ? 's' : ''} ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', ...' : ''} did not: the sync is incomplete and was not applied; send the missing pages, then the last one again; ${NOTHING_STORED}`,
        'sync.page',
        { missingPages: missing.slice(0, 1000), restartSync: true },
      );
    // the complete set of the cluster's running workloads
    const all: StagedWorkload[] = [];
    const pageOf = new Map<string, number>();
    for (const { page, workloads: staged } of [...rows, { page: sync.page, workloads: [...workloads] }]) {
      for (const w of staged) {
        const key = workloadKey(w);
        const earlier = pageOf.get(key);
        if (earlier !== undefined) {
          const i = page === sync.page ? workloads.indexOf(w) : -1;
          throw badReport(
            i >= 0 ? `workloads[${i}].name` : 'sync',
            `${key} is in page ${earlier} and page ${page} of sync ${sync.id}: a sync names each workload once`,
          );
        }
        pageOf.set(key, page);
        all.push(w);
      }
    }
    const previous = await this.previous(client, agent, null);
    await client.query(`DELETE FROM running_workloads WHERE tenant_id = $1::uuid AND cluster_id = $2::uuid`, [
      agent.tenantId,
      agent.clusterId,
    ]);
    await this.insert(client, agent, all, report.bundleRevision, previous, now);
    await client.query(`DELETE FROM running_sync_pages WHERE tenant_id = $1::uuid AND cluster_id = $2::uuid`, [
      agent.tenantId,
      agent.clusterId,
    ]);
    await client.query(
      `UPDATE running_cluster_states SET bundle_revision = $3, last_full_sync_at = $4, sync_id = NULL, sync_started_at = NULL
       WHERE tenant_id = $1::uuid AND cluster_id = $2::uuid`,
      [agent.tenantId, agent.clusterId, report.bundleRevision, now],
    );
    return true;
  }

  /** first_seen_at of the workloads and since of their violations, for `keys` (null: the whole cluster). */
  private async previous(
    client: PoolClient,
    agent: AgentIdentity,
    keys: [string[], string[], string[]] | null,
  ): Promise<Previous> {
    const params = [agent.tenantId, agent.clusterId, ...(keys ?? [])];
    const among = keys
      ? `AND (x.kind, x.namespace, x.name) IN (SELECT * FROM unnest($3::text[], $4::text[], $5::text[]))`
      : '';
    const w = await client.query<{ kind: string; namespace: string; name: string; uid: string; first_seen_at: Date }>(
      `SELECT kind, namespace, name, uid, first_seen_at FROM running_workloads x
       WHERE x.tenant_id = $1::uuid AND x.cluster_id = $2::uuid ${among}`,
      params,
    );
    const v = await client.query<{
      kind: string;
      namespace: string;
      name: string;
      policy_id: string;
      rule_id: string;
      container: string;
      since: Date;
    }>(
      `SELECT kind, namespace, name, policy_id, rule_id, container, min(since) AS since FROM running_violations x
       WHERE x.tenant_id = $1::uuid AND x.cluster_id = $2::uuid ${among}
       GROUP BY kind, namespace, name, policy_id, rule_id, container`,
      params,
    );
    const workloads = new Map<string, { uid: string; firstSeenAt: Date }>();
    for (const r of w.rows)
      workloads.set(rowKey(r.kind, r.namespace, r.name), { uid: r.uid, firstSeenAt: r.first_seen_at });
    const since = new Map<string, Date>();
    for (const r of v.rows)
      since.set(violationKey(rowKey(r.kind, r.namespace, r.name), r.policy_id, r.rule_id, r.container), r.since);
    return { workloads, since };
  }

  private async insert(
    client: PoolClient,
    agent: AgentIdentity,
    workloads: readonly StagedWorkload[],
    revision: number | null,
    previous: Previous,
    now: Date,
  ): Promise<void> {
    for (let start = 0; start < workloads.length; start += INSERT_CHUNK) {
      const chunk = workloads.slice(start, start + INSERT_CHUNK);
      const wRows: unknown[] = [];
      const vRows: unknown[] = [];
      for (const w of chunk) {
        const ns = w.namespace ?? '';
        const key = rowKey(w.kind, ns, w.name);
        const before = previous.workloads.get(key);
        // the same object (uid) keeps its history; a re-created one starts again
        const same = before !== undefined && before.uid === w.uid;
        const open = w.violations.filter((v) => !v.exempted);
        wRows.push({
          k: w.kind,
          ns,
          n: w.name,
          av: w.apiVersion,
          uid: w.uid,
          p: w.pods,
          im: w.images,
          h: w.snapshotHash,
          wd: open.some((v) => v.action === 'BLOCK'),
          vi: open.length > 0,
          fs: (same ? before.firstSeenAt : now).toISOString(),
        });
        const seen = new Set<string>();
        for (const v of w.violations) {
          const container = v.container ?? '';
          const path = v.path ?? '';
          // the primary key: one row per policy, rule, container and path (the first one reported)
          const pk = `${v.policyId}\u0000${v.rule}\u0000${container}\u0000${path}`;
          if (seen.has(pk)) continue;
          seen.add(pk);
          const since = same ? previous.since.get(violationKey(key, v.policyId, v.rule, container)) : undefined;
          vRows.push({
            k: w.kind,
            ns,
            n: w.name,
            p: v.policyId,
            r: v.rule,
            c: container,
            pa: path,
            a: v.action,
            m: v.message,
            i: v.image ?? null,
            e: v.exempted,
            s: (since ?? now).toISOString(),
          });
        }
      }
      await client.query(
        `INSERT INTO running_workloads (tenant_id, cluster_id, kind, namespace, name, cloud_scope_id, api_version, uid, pods,
           images, snapshot_hash, bundle_revision, would_deny, violating, first_seen_at, updated_at)
         SELECT $1::uuid, $2::uuid, x.k, x.ns, x.n, $3::uuid, x.av, x.uid, x.p,
           ARRAY(SELECT jsonb_array_elements_text(x.im)), decode(x.h, 'hex'), $4::integer, x.wd, x.vi, x.fs, $5
         FROM jsonb_to_recordset($6::jsonb) AS x(k text, ns text, n text, av text, uid text, p integer, im jsonb, h text,
           wd boolean, vi boolean, fs timestamptz)`,
        [agent.tenantId, agent.clusterId, agent.cloudScopeId, revision, now, pgJson(wRows)],
      );
      if (vRows.length > 0)
        await client.query(
          `INSERT INTO running_violations (tenant_id, cluster_id, kind, namespace, name, policy_id, rule_id, container, path,
             cloud_scope_id, action, message, image, exempted, since)
           SELECT $1::uuid, $2::uuid, x.k, x.ns, x.n, x.p, x.r, x.c, x.pa, $3::uuid, x.a, x.m, x.i, x.e, x.s
           FROM jsonb_to_recordset($4::jsonb) AS x(k text, ns text, n text, p text, r text, c text, pa text, a text, m text,
             i text, e boolean, s timestamptz)`,
          [agent.tenantId, agent.clusterId, agent.cloudScopeId, pgJson(vRows)],
        );
    }
  }
}

function staged(w: RunningWorkload): StagedWorkload {
  return {
    kind: w.kind,
    apiVersion: w.apiVersion,
    namespace: w.namespace,
    name: w.name,
    uid: w.uid,
    pods: w.pods,
    images: w.images,
    snapshotHash: w.snapshotHash,
    violations: w.violations,
  };
}

function keyArrays(refs: ReadonlyArray<{ kind: string; namespace: string | null; name: string }>) {
  const out: [string[], string[], string[]] = [[], [], []];
  for (const r of refs) {
    out[0].push(r.kind);
    out[1].push(r.namespace ?? '');
    out[2].push(r.name);
  }
  return out;
}

const rowKey = (kind: string, namespace: string, name: string) => `${kind}\u0000${namespace}\u0000${name}`;
const violationKey = (workload: string, policyId: string, rule: string, container: string) =>
  `${workload}\u0000${policyId}\u0000${rule}\u0000${container}`;

function badReport(field: string, message: string): DomainError {
  return new DomainError(
    'BAD_USER_INPUT',
    `${field}: ${message} (the report was rejected whole, ${NOTHING_STORED})`,
    field,
  );
}
