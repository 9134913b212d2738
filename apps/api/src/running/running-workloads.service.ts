import { Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { Prisma, type PolicyAction } from '@portcullis/db';
import { badInput } from '@portcullis/platform';
import { decodeCursor, pageSize, toConnection } from '../graphql/connection';
import { likeLiteral } from '../platform/substring-filter';
import { SqlPool } from '../platform/sql-pool';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility } from '../tenancy/visibility';
import {
  WorkloadSource,
  type RunningPolicyRef,
  type RunningPostureCount,
  type RunningPostureSummary,
  type RunningViolationNode,
  type RunningWorkloadConnection,
  type RunningWorkloadFilter,
  type RunningWorkloadNode,
  type RunningWorkloadsArgs,
  type RunningWouldDeny,
} from './running.types';

type Policies = ReadonlyMap<string, RunningPolicyRef>;

interface WorkloadRow {
  readonly cluster_id: string;
  readonly cloud_scope_id: string;
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  readonly api_version: string;
  readonly uid: string;
  readonly pods: number;
  readonly images: string[];
  readonly would_deny: boolean;
  readonly first_seen_at: Date;
  readonly updated_at: Date;
  readonly evaluated_revision: number | null;
}

interface ViolationRow {
  readonly cluster_id: string;
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  readonly policy_id: string;
  readonly rule_id: string;
  readonly container: string;
  readonly path: string;
  readonly action: PolicyAction;
  readonly message: string;
  readonly image: string | null;
  readonly exempted: boolean;
  readonly since: Date;
}

/** A running workload with what a simulation needs: its stored snapshot (gzip) when the tenant holds it. */
export interface RunningSnapshotRow {
  readonly cluster_id: string;
  readonly cloud_scope_id: string;
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  readonly pods: number;
  readonly evaluated_revision: number | null;
  readonly body: Buffer | null;
}

const key = (cluster: string, namespace: string, kind: string, name: string) =>
  `${cluster}\u0000${namespace}\u0000${kind}\u0000${name}`;

/**
 * The background audit's current state, read through the caller's visibility: row-level security
 * confines every statement to the tenant, Visibility to the cloud scopes the caller reads, and a
 * policy the caller cannot see is never named (violations of it show `policy: null`, counts leave it out).
 */
@Injectable()
export class RunningWorkloadsService {
  constructor(
    private readonly sql: SqlPool,
    private readonly db: TenantDb,
  ) {}

  /** The policies the caller may see, by id. */
  visiblePolicies(principal: Principal): Promise<Policies> {
    return this.db.run(principal, async (tx) => {
      const rows = await tx.policy.findMany({
        where: Visibility.of(principal).policies(),
        select: { id: true, name: true, action: true },
      });
      return new Map(rows.map((p) => [p.id, p]));
    });
  }

  async list(principal: Principal, args: RunningWorkloadsArgs): Promise<RunningWorkloadConnection> {
    const filter = args.filter ?? {};
    const size = pageSize(args);
    const after = decodeCursor(args.after ?? undefined);
    let afterKey: [string, string, string, string] | undefined;
    if (after) {
      const rest = parseCursorId(after.id);
      afterKey = [after.key, ...rest];
    }
    const policies = await this.visiblePolicies(principal);
    const where = this.where(principal, filter, policies);
    const connection = await this.sql.inTenant(principal.tenantId, async (client) => {
      const page = Prisma.sql`
        SELECT w.cluster_id::text, w.cloud_scope_id::text, w.namespace, w.kind, w.name, w.api_version, w.uid, w.pods,
               w.images, w.would_deny, w.first_seen_at, w.updated_at, s.bundle_revision AS evaluated_revision
        FROM running_workloads w
        LEFT JOIN running_cluster_states s ON s.tenant_id = w.tenant_id AND s.cluster_id = w.cluster_id
        WHERE ${where}
          ${afterKey ? Prisma.sql`AND (w.cluster_id::text, w.namespace, w.kind, w.name) > (${afterKey[0]}, ${afterKey[1]}, ${afterKey[2]}, ${afterKey[3]})` : Prisma.empty}
        ORDER BY w.cluster_id::text, w.namespace, w.kind, w.name
        LIMIT ${size + 1}`;
      const rows = (await client.query<WorkloadRow>(page.text, page.values)).rows;
      const total = Prisma.sql`SELECT count(*)::int AS n FROM running_workloads w WHERE ${where}`;
      const totalCount = (await client.query<{ n: number }>(total.text, total.values)).rows[0]!.n;
      const violations = await this.violationsOf(client, rows.slice(0, size));
      return toConnection(
        rows,
        size,
        totalCount,
        (r) => ({ key: r.cluster_id, id: JSON.stringify([r.namespace, r.kind, r.name]) }),
        (r) => toNode(r, violations.get(key(r.cluster_id, r.namespace, r.kind, r.name)) ?? [], policies),
      );
    });
    return { ...connection, query: { tenantId: principal.tenantId, filter } };
  }

  async summary(principal: Principal, filter: RunningWorkloadFilter): Promise<RunningPostureSummary> {
    const policies = await this.visiblePolicies(principal);
    const where = this.where(principal, filter, policies);
    const view = Visibility.of(principal);
    return this.sql.inTenant(principal.tenantId, async (client) => {
      const totalsSql = Prisma.sql`
        SELECT count(*)::int AS workloads, coalesce(sum(pods), 0)::bigint AS pods,
               count(*) FILTER (WHERE violating)::int AS violating,
               count(*) FILTER (WHERE would_deny)::int AS would_deny,
               coalesce(sum(pods) FILTER (WHERE would_deny), 0)::bigint AS would_deny_pods
        FROM running_workloads w WHERE ${where}`;
      const t = (await client.query<Record<string, string | number>>(totalsSql.text, totalsSql.values)).rows[0]!;
      // per policy (rule = '') and per policy and rule: each workload once, Block if any of its open violations is
      const countsSql = Prisma.sql`
        WITH per AS (
          SELECT v.policy_id, v.rule_id, w.cluster_id, w.namespace, w.kind, w.name, w.pods, bool_or(v.action = 'BLOCK') AS block
          FROM running_workloads w
          JOIN running_violations v ON v.tenant_id = w.tenant_id AND v.cluster_id = w.cluster_id AND v.kind = w.kind
            AND v.namespace = w.namespace AND v.name = w.name AND NOT v.exempted
          WHERE ${where}
          GROUP BY GROUPING SETS ((v.policy_id, w.cluster_id, w.namespace, w.kind, w.name, w.pods),
                                  (v.policy_id, v.rule_id, w.cluster_id, w.namespace, w.kind, w.name, w.pods))
        )
        SELECT policy_id, rule_id, count(*)::int AS workloads, sum(pods)::bigint AS pods,
               count(*) FILTER (WHERE block)::int AS block, count(*) FILTER (WHERE NOT block)::int AS audit
        FROM per GROUP BY policy_id, rule_id`;
      const counts = (
        await client.query<{
          policy_id: string;
          rule_id: string | null;
          workloads: number;
          pods: string;
          block: number;
          audit: number;
        }>(countsSql.text, countsSql.values)
      ).rows;
      const byPolicy: RunningPostureCount[] = [];
      const byRule: RunningPostureCount[] = [];
      for (const c of counts) {
        const policy = policies.get(c.policy_id);
        if (!policy) continue; // not visible (or deleted): never named
        const entry = {
          policy,
          rule: c.rule_id,
          workloads: c.workloads,
          pods: Number(c.pods),
          blockWorkloads: c.block,
          auditWorkloads: c.audit,
        };
        (c.rule_id === null ? byPolicy : byRule).push(entry);
      }
      const order = (a: RunningPostureCount, b: RunningPostureCount) =>
        b.workloads - a.workloads ||
        cmp(a.policy.name, b.policy.name) ||
        cmp(a.policy.id, b.policy.id) ||
        cmp(a.rule ?? '', b.rule ?? '');
      const clustersSql = Prisma.sql`
        SELECT s.cluster_id::text, s.last_report_at, s.last_full_sync_at, s.bundle_revision, s.sync_id IS NOT NULL AS syncing
        FROM running_cluster_states s
        WHERE ${view.sql(Prisma.raw('s.cloud_scope_id'), filter.cloudScopeId)}
          ${filter.clusterId ? Prisma.sql`AND s.cluster_id = ${filter.clusterId.toLowerCase()}::uuid` : Prisma.empty}
        ORDER BY s.cluster_id`;
      const clusters = (
        await client.query<{
          cluster_id: string;
          last_report_at: Date;
          last_full_sync_at: Date | null;
          bundle_revision: number | null;
          syncing: boolean;
        }>(clustersSql.text, clustersSql.values)
      ).rows;
      return {
        workloads: Number(t['workloads']),
        pods: Number(t['pods']),
        violatingWorkloads: Number(t['violating']),
        wouldDenyWorkloads: Number(t['would_deny']),
        wouldDenyPods: Number(t['would_deny_pods']),
        byPolicy: byPolicy.sort(order),
        byRule: byRule.sort(order),
        clusters: clusters.map((c) => ({
          clusterId: c.cluster_id,
          lastReportAt: c.last_report_at,
          lastFullSyncAt: c.last_full_sync_at,
          evaluatedRevision: c.bundle_revision,
          syncInProgress: c.syncing,
        })),
      };
    });
  }

  /**
   * Running workloads a policy would deny if they were admitted now: a violation of the policy no
   * exemption covers (whatever its action: the question is what Block would do), in the readable scopes.
   * The agent evaluated them with the cluster's bundle, which carries the policy's namespace and
   * cluster scope; most violators first.
   */
  wouldDeny(principal: Principal, policyId: string): Promise<RunningWouldDeny[]> {
    const scope = Visibility.of(principal).sql(Prisma.raw('w.cloud_scope_id'));
    return this.sql.inTenant(principal.tenantId, async (client) => {
      const q = Prisma.sql`
        SELECT w.cluster_id::text, w.namespace, w.kind, w.name, w.pods, s.bundle_revision,
               array_agg(DISTINCT v.rule_id ORDER BY v.rule_id) AS rules, min(v.since) AS since
        FROM running_violations v
        JOIN running_workloads w ON w.tenant_id = v.tenant_id AND w.cluster_id = v.cluster_id AND w.kind = v.kind
          AND w.namespace = v.namespace AND w.name = v.name
        LEFT JOIN running_cluster_states s ON s.tenant_id = w.tenant_id AND s.cluster_id = w.cluster_id
        WHERE v.policy_id = ${policyId} AND NOT v.exempted AND ${scope}
        GROUP BY w.cluster_id, w.namespace, w.kind, w.name, w.pods, s.bundle_revision
        ORDER BY w.pods DESC, w.cluster_id, w.namespace, w.kind, w.name`;
      const rows = (
        await client.query<{
          cluster_id: string;
          namespace: string;
          kind: string;
          name: string;
          pods: number;
          bundle_revision: number | null;
          rules: string[];
          since: Date;
        }>(q.text, q.values)
      ).rows;
      return rows.map((r) => ({
        source: WorkloadSource.RUNNING,
        clusterId: r.cluster_id,
        namespace: r.namespace,
        kind: r.kind,
        name: r.name,
        pods: r.pods,
        rules: r.rules,
        since: r.since,
        evaluatedRevision: r.bundle_revision,
      }));
    });
  }

  /**
   * The running workloads of the readable scopes with their stored snapshots, and for `policyId` whether
   * the agent's evaluation has them denied by it now; for simulation.
   */
  snapshots(
    principal: Principal,
    policyId: string | null,
  ): Promise<Array<RunningSnapshotRow & { readonly denied_now: boolean }>> {
    const scope = Visibility.of(principal).sql(Prisma.raw('w.cloud_scope_id'));
    return this.sql.inTenant(principal.tenantId, async (client) => {
      const q = Prisma.sql`
        SELECT w.cluster_id::text, w.cloud_scope_id::text, w.namespace, w.kind, w.name, w.pods,
               c.bundle_revision AS evaluated_revision, s.body,
               EXISTS (SELECT 1 FROM running_violations v WHERE v.tenant_id = w.tenant_id AND v.cluster_id = w.cluster_id
                 AND v.kind = w.kind AND v.namespace = w.namespace AND v.name = w.name
                 AND v.policy_id = ${policyId ?? ''} AND NOT v.exempted) AS denied_now
        FROM running_workloads w
        LEFT JOIN admission_snapshots s ON s.tenant_id = w.tenant_id AND s.hash = w.snapshot_hash
        LEFT JOIN running_cluster_states c ON c.tenant_id = w.tenant_id AND c.cluster_id = w.cluster_id
        WHERE ${scope}
        ORDER BY w.cluster_id, w.namespace, w.kind, w.name`;
      return (await client.query<RunningSnapshotRow & { denied_now: boolean }>(q.text, q.values)).rows;
    });
  }

  /** The filter as SQL over running_workloads `w`. */
  private where(principal: Principal, f: RunningWorkloadFilter, policies: Policies): Prisma.Sql {
    const parts: Prisma.Sql[] = [Visibility.of(principal).sql(Prisma.raw('w.cloud_scope_id'), f.cloudScopeId)];
    if (f.clusterId) parts.push(Prisma.sql`w.cluster_id = ${f.clusterId.toLowerCase()}::uuid`);
    if (f.namespace !== undefined) {
      if (/[*?]/.test(f.namespace)) {
        // validated to letters, digits, '-', '.', '*', '?': escaped, then the wildcards become LIKE's
        const like = likeLiteral(f.namespace).replace(/\*/g, '%').replace(/\?/g, '_');
        parts.push(Prisma.sql`w.namespace LIKE ${like}`);
      } else parts.push(Prisma.sql`w.namespace = ${f.namespace}`);
    }
    if (f.kind) parts.push(Prisma.sql`w.kind = ${f.kind}`);
    if (f.name) parts.push(Prisma.sql`w.name = ${f.name}`);
    // a policy the caller cannot see filters to nothing, as one that does not exist
    if (f.policyId && !policies.has(f.policyId.toLowerCase())) parts.push(Prisma.sql`FALSE`);
    const v: Prisma.Sql[] = [];
    if (f.policyId) v.push(Prisma.sql`v.policy_id = ${f.policyId.toLowerCase()}`);
    if (f.rule) v.push(Prisma.sql`v.rule_id = ${f.rule}`);
    if (f.action) v.push(Prisma.sql`v.action = ${f.action}`);
    if (f.onlyViolating) v.push(Prisma.sql`NOT v.exempted`);
    if (v.length === 1 && f.onlyViolating) parts.push(Prisma.sql`w.violating`);
    else if (v.length > 0)
      parts.push(Prisma.sql`EXISTS (SELECT 1 FROM running_violations v WHERE v.tenant_id = w.tenant_id
        AND v.cluster_id = w.cluster_id AND v.kind = w.kind AND v.namespace = w.namespace AND v.name = w.name
        AND ${Prisma.join(v, ' AND ')})`);
    return Prisma.join(parts, ' AND ');
  }

  private async violationsOf(client: PoolClient, rows: readonly WorkloadRow[]): Promise<Map<string, ViolationRow[]>> {
    const out = new Map<string, ViolationRow[]>();
    if (rows.length === 0) return out;
    const { rows: found } = await client.query<ViolationRow>(
      `SELECT v.cluster_id::text, v.namespace, v.kind, v.name, v.policy_id, v.rule_id, v.container, v.path, v.action,
              v.message, v.image, v.exempted, v.since
       FROM running_violations v
       JOIN unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS k(cluster_id, namespace, kind, name)
         ON v.cluster_id = k.cluster_id AND v.namespace = k.namespace AND v.kind = k.kind AND v.name = k.name
       ORDER BY v.policy_id, v.rule_id, v.container, v.path`,
      [rows.map((r) => r.cluster_id), rows.map((r) => r.namespace), rows.map((r) => r.kind), rows.map((r) => r.name)],
    );
    for (const v of found) {
      const k = key(v.cluster_id, v.namespace, v.kind, v.name);
      let list = out.get(k);
      if (!list) out.set(k, (list = []));
      list.push(v);
    }
    return out;
  }
}

function parseCursorId(id: string): [string, string, string] {
  try {
    const value: unknown = JSON.parse(id);
    if (Array.isArray(value) && value.length === 3 && value.every((x) => typeof x === 'string'))
      return value as [string, string, string];
  } catch {
    // below
  }
  throw badInput('after', 'is not a cursor returned by this list');
}

function toNode(r: WorkloadRow, violations: readonly ViolationRow[], policies: Policies): RunningWorkloadNode {
  return {
    source: WorkloadSource.RUNNING,
    clusterId: r.cluster_id,
    cloudScopeId: r.cloud_scope_id,
    namespace: r.namespace === '' ? null : r.namespace,
    kind: r.kind,
    apiVersion: r.api_version,
    name: r.name,
    uid: r.uid,
    pods: r.pods,
    images: r.images,
    evaluatedRevision: r.evaluated_revision,
    wouldDeny: r.would_deny,
    firstSeenAt: r.first_seen_at,
    updatedAt: r.updated_at,
    violations: violations.map((v): RunningViolationNode => ({
      policy: policies.get(v.policy_id) ?? null,
      rule: v.rule_id,
      action: v.action,
      message: v.message,
      path: v.path === '' ? null : v.path,
      container: v.container === '' ? null : v.container,
      image: v.image,
      exempted: v.exempted,
      since: v.since,
    })),
  };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
