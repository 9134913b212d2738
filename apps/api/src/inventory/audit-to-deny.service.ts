import { Inject, Injectable } from '@nestjs/common';
import { Prisma, type TenantTx } from '@portcullis/db';
import { CLOCK, badInput, type Clock } from '@portcullis/platform';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility, hidden } from '../tenancy/visibility';
import type { AuditToDenyReport, BreakdownEntry, ReportWindowArgs } from './inventory.types';
import { SqlPool } from '../platform/sql-pool';
import { DAY_MS, assembleReport, reportWindow, type ReportMeta, type WorkloadSummary } from './report-shape';
import { workloadMonthsInWindow } from './workload-months';

/**
 * One workload's row of the report statement: its policy-level would-be denials over the
 * window (all of them, and those since readyFrom), the last one (epoch ms), its days as
 * `first:base,t1,t2,...` segments (one per month row; `first` is the window index of t1,
 * `base` the running total before it), and the rules that would have denied it with
 * their admissions.
 */
type WorkloadRow = [cluster: string, namespace: string, kind: string, name: string, admissions: string, recent: string, lastAt: string | null, days: string | null, rules: string[] | null, ruleAdmissions: string | null];

/**
 * What switching a policy to Block would have denied, from the per-workload month
 * rollup only (never raw events).
 */
@Injectable()
export class AuditToDenyService {
  constructor(
    private readonly db: TenantDb,
    private readonly pool: SqlPool,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  report(principal: Principal, policyId: string, args: ReportWindowArgs): Promise<AuditToDenyReport> {
    if (args.readyAfterDays > args.days) throw badInput('readyAfterDays', 'readyAfterDays must be at most days');
    const w = reportWindow(this.clock.now(), args.days, args.readyAfterDays);
    return this.db.run(principal, (tx) => this.visiblePolicy(tx, principal, policyId)).then((policy) => {
      const meta: ReportMeta = { policyId, policyName: policy.name, action: policy.action, ...w, readyAfterDays: args.readyAfterDays, workloadLimit: args.workloadLimit };
      return this.fromRollups(principal, meta);
    });
  }

  async visiblePolicy(tx: TenantTx, principal: Principal, policyId: string) {
    const policy = await tx.policy.findFirst({ where: { AND: [{ id: policyId }, Visibility.of(principal).policies()] } });
    if (!policy) throw hidden('policy', policyId);
    return policy;
  }

  /**
   * One statement over the policy's per-workload month rows of the window (at most two per
   * workload and rule for 30 days, four for 90): each row's share of the window is two
   * subscripts of its running totals, summed per workload and rule, then per workload; the
   * per-day trend comes from the policy-level rows' running totals, differenced here.
   * Read through pg directly: no Prisma row mapping.
   */
  private async fromRollups(principal: Principal, meta: ReportMeta): Promise<AuditToDenyReport> {
    const from = meta.from.getTime();
    const days = Math.round((meta.to.getTime() - from) / DAY_MS);
    const months = workloadMonthsInWindow(meta.policyId!, meta, Prisma.sql`tenant_id = ${principal.tenantId}::uuid AND decision IN ('AUDITED', 'DENIED') AND ${Visibility.of(principal).sql()}`);
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
    const rows = await this.pool.inTenant(principal.tenantId, async (client) => (await client.query<WorkloadRow>({ text: sql.text, values: sql.values, rowMode: 'array' })).rows);

    const perDay = new Float64Array(days);
    const workloadsPerDay = new Uint32Array(days);
    const workloads: WorkloadSummary[] = [];
    const byRule = new Map<string, BreakdownEntry>();
    for (const [clusterId, namespace, kind, name, admissions, recent, lastAt, daySegments, rules, ruleAdmissions] of rows) {
      if (rules) {
        const counts = ruleAdmissions!.split(',');
        for (let i = 0; i < rules.length; i++) {
          const rule = byRule.get(rules[i]!) ?? { key: rules[i]!, admissions: 0, workloads: 0 };
          rule.admissions += Number(counts[i]);
          rule.workloads++;
          byRule.set(rule.key, rule);
        }
      }
      // a workload the policy's outcome never counted (no policy-level row) is in the rule breakdown only
      if (admissions === '0') continue;
      workloads.push({ clusterId, namespace, kind, name, admissions: Number(admissions), recent: Number(recent), lastAt: Number(lastAt), rules: rules ?? [] });
      // one segment per month row: a month with both AUDITED and DENIED days has two, and
      // a day must count the workload once
      const segments = daySegments?.split(';') ?? [];
      const counted = segments.length > 1 ? new Set<number>() : null;
      for (const segment of segments) {
        const colon = segment.indexOf(':');
        const first = Number(segment.slice(0, colon));
        const totals = segment.slice(colon + 1).split(',');
        for (let i = 1; i < totals.length; i++) {
          const n = Number(totals[i]) - Number(totals[i - 1]);
          if (n === 0) continue;
          const day = first + i - 1;
          perDay[day] += n;
          if (!counted?.has(day)) workloadsPerDay[day]++;
          counted?.add(day);
        }
      }
    }
    return assembleReport(meta, workloads, [...byRule.values()], (day) => {
      const i = Math.round((day - from) / DAY_MS);
      return perDay[i] ? { admissions: perDay[i]!, workloads: workloadsPerDay[i]! } : undefined;
    });
  }
}
