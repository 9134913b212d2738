import { Inject, Injectable } from '@nestjs/common';
import { Prisma, type TenantTx } from '@portcullis/db';
import { CLOCK, badInput, notFound, type Clock } from '@portcullis/platform';
import { PolicyService } from '../policies/policy.service';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import type { AuditToDenyReport, BreakdownEntry, ReportWindowArgs, SuggestedExemption, WorkloadViolations } from './inventory.types';
import { readableScopes } from './reader-scope';
import { compareEntries, compareWorkloads, dailyTrend, readiness, reportWindow, type ReportMeta } from './report-shape';

interface GroupRow {
  g_day: number;
  g_cluster: number;
  g_namespace: number;
  g_workload: number;
  day: Date | null;
  cluster_id: string | null;
  namespace: string | null;
  owner_kind: string | null;
  owner_name: string | null;
  admissions: number;
  recent: number;
  workloads: number;
  last_at: Date | null;
}

/**
 * What switching a policy to Block would have denied, from the per-workload daily
 * rollup only (never raw events): one pass for totals, trend, cluster, namespace and
 * workload breakdowns, one for rules.
 */
@Injectable()
export class AuditToDenyService {
  constructor(
    private readonly db: TenantDb,
    private readonly policies: PolicyService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  report(principal: Principal, policyId: string, args: ReportWindowArgs): Promise<AuditToDenyReport> {
    if (args.readyAfterDays > args.days) throw badInput('readyAfterDays', 'readyAfterDays must be at most days');
    const w = reportWindow(this.clock.now(), args.days, args.readyAfterDays);
    return this.db.run(principal, async (tx) => {
      const policy = await this.visiblePolicy(tx, principal, policyId);
      // the report aggregates ~100k rollup rows per policy and month: in memory, not spilled to disk
      await tx.$executeRawUnsafe("SET LOCAL work_mem = '64MB'");
      const meta: ReportMeta = { policyId, policyName: policy.name, action: policy.action, ...w, readyAfterDays: args.readyAfterDays, workloadLimit: args.workloadLimit };
      return this.fromRollups(tx, principal, meta);
    });
  }

  async visiblePolicy(tx: TenantTx, principal: Principal, policyId: string) {
    const policy = await tx.policy.findFirst({ where: { AND: [{ id: policyId }, this.policies.visibleWhere(principal)] } });
    if (!policy) throw notFound(`policy ${policyId} does not exist or is not visible to you`);
    return policy;
  }

  private async fromRollups(tx: TenantTx, principal: Principal, meta: ReportMeta): Promise<AuditToDenyReport> {
    const where = Prisma.sql`policy_id = ${meta.policyId} AND day >= ${meta.from} AND day < ${meta.to}
      AND decision IN ('AUDITED', 'DENIED') AND ${readableScopes(principal)}`;
    // no DISTINCT anywhere: w is one row per workload and day, wl one row per workload
    const groups = await tx.$queryRaw<GroupRow[]>`
      WITH w AS MATERIALIZED (
        SELECT day, cluster_id, namespace, owner_kind, owner_name, sum(admissions) AS adm, max(last_at) AS last_at
        FROM admission_workload_days WHERE ${where} AND rule_id = ''
        GROUP BY day, cluster_id, namespace, owner_kind, owner_name
      ), wl AS MATERIALIZED (
        SELECT cluster_id, namespace, owner_kind, owner_name, sum(adm) AS adm, coalesce(sum(adm) FILTER (WHERE day >= ${meta.readyFrom}), 0) AS recent, max(last_at) AS last_at
        FROM w GROUP BY cluster_id, namespace, owner_kind, owner_name
      )
      SELECT 1 AS g_day, 1 AS g_cluster, 1 AS g_namespace, 1 AS g_workload, NULL::timestamptz AS day, NULL::uuid AS cluster_id, NULL AS namespace, NULL AS owner_kind, NULL AS owner_name,
             coalesce(sum(adm), 0)::int AS admissions, 0 AS recent, count(*)::int AS workloads, max(last_at) AS last_at FROM wl
      UNION ALL
      SELECT 0, 1, 1, 1, day, NULL, NULL, NULL, NULL, sum(adm)::int, 0, count(*)::int, max(last_at) FROM w GROUP BY day
      UNION ALL
      SELECT 1, 0, 1, 1, NULL, cluster_id, NULL, NULL, NULL, sum(adm)::int, 0, count(*)::int, max(last_at) FROM wl GROUP BY cluster_id
      UNION ALL
      SELECT 1, 1, 0, 1, NULL, NULL, namespace, NULL, NULL, sum(adm)::int, 0, count(*)::int, max(last_at) FROM wl GROUP BY namespace
      UNION ALL
      SELECT 1, 0, 0, 0, NULL, cluster_id, namespace, owner_kind, owner_name, adm::int, recent::int, 1, last_at FROM wl`;
    const rules = await tx.$queryRaw<Array<{ rule_id: string; cluster_id: string | null; namespace: string | null; owner_kind: string | null; owner_name: string | null; admissions: number; workloads: number }>>`
      WITH wr AS MATERIALIZED (
        SELECT rule_id, cluster_id, namespace, owner_kind, owner_name, sum(admissions) AS adm
        FROM admission_workload_days WHERE ${where} AND rule_id <> ''
        GROUP BY rule_id, cluster_id, namespace, owner_kind, owner_name
      )
      SELECT rule_id, NULL::uuid AS cluster_id, NULL AS namespace, NULL AS owner_kind, NULL AS owner_name, sum(adm)::int AS admissions, count(*)::int AS workloads FROM wr GROUP BY rule_id
      UNION ALL
      SELECT rule_id, cluster_id, namespace, owner_kind, owner_name, adm::int, 1 FROM wr`;

    const total = groups.find((g) => g.g_day && g.g_cluster && g.g_namespace && g.g_workload);
    const byDay = new Map(groups.filter((g) => !g.g_day).map((g) => [g.day!.getTime(), g]));
    const entries = (pick: (g: GroupRow) => boolean, key: (g: GroupRow) => string): BreakdownEntry[] =>
      groups.filter(pick).map((g) => ({ key: key(g), admissions: g.admissions, workloads: g.workloads })).sort(compareEntries);
    const ruleSets = new Map<string, string[]>();
    for (const r of rules) {
      if (r.owner_name === null) continue;
      const k = `${r.cluster_id}\u0000${r.namespace}\u0000${r.owner_kind}\u0000${r.owner_name}`;
      ruleSets.set(k, [...(ruleSets.get(k) ?? []), r.rule_id]);
    }
    const workloads = groups.filter((g) => !g.g_workload);
    const byWorkload: WorkloadViolations[] = workloads
      .map((g) => ({
        clusterId: g.cluster_id!,
        namespace: g.namespace!,
        kind: g.owner_kind!,
        name: g.owner_name!,
        admissions: g.admissions,
        lastViolationAt: g.last_at!,
        rules: (ruleSets.get(`${g.cluster_id}\u0000${g.namespace}\u0000${g.owner_kind}\u0000${g.owner_name}`) ?? []).sort(),
      }))
      .sort(compareWorkloads)
      .slice(0, meta.workloadLimit);
    const suggestions: SuggestedExemption[] = workloads
      .filter((g) => g.recent > 0)
      .map((g) => ({ namespace: g.namespace!, kind: g.owner_kind!, name: g.owner_name!, admissions: g.recent }))
      .sort((a, b) => b.admissions - a.admissions || cmp(a.namespace, b.namespace) || cmp(a.kind, b.kind) || cmp(a.name, b.name));
    return {
      policyId: meta.policyId,
      policyName: meta.policyName,
      action: meta.action,
      window: { from: meta.from, to: meta.to },
      wouldDenyAdmissions: total?.admissions ?? 0,
      wouldDenyWorkloads: total?.workloads ?? 0,
      byRule: rules.filter((r) => r.owner_name === null && r.cluster_id === null).map((r) => ({ key: r.rule_id, admissions: r.admissions, workloads: r.workloads })).sort(compareEntries),
      byNamespace: entries((g) => !g.g_namespace && g.g_cluster === 1, (g) => g.namespace!),
      byCluster: entries((g) => !g.g_cluster && g.g_namespace === 1, (g) => g.cluster_id!),
      byWorkload,
      dailyTrend: dailyTrend(meta.from, meta.to, (day) => {
        const g = byDay.get(day);
        return g && { admissions: g.admissions, workloads: g.workloads };
      }),
      readiness: readiness(meta, total?.last_at ?? null, suggestions),
    };
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
