import { Inject, Injectable } from '@nestjs/common';
import { Prisma, type TenantTx } from '@portcullis/db';
import { CLOCK, badInput, notFound, type Clock } from '@portcullis/platform';
import { PolicyService } from '../policies/policy.service';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import type { AuditToDenyReport, BreakdownEntry, ReportWindowArgs } from './inventory.types';
import { readableScopes } from './reader-scope';
import { IngestPool } from './ingest-pool';
import { DAY_MS, assembleReport, reportWindow, type ReportMeta } from './report-shape';

/**
 * One row of the report's statements: with `day` NULL, one workload's rollup over the
 * window (rule_id '' is the policy's outcome on it, any other rule id that rule's); with
 * `day` set, the policy's outcome over all workloads on that day (rule_id '' only).
 */
type PassRow = [day: Date | null, cluster: string | null, namespace: string | null, kind: string | null, name: string | null, ruleId: string, admissions: number, recent: number, lastAt: Date, m0: number, m1: number, m2: number];

/** Days per mask column: a window of up to 90 days is three 30-bit masks of the days a workload would have been denied on. */
const MASK_DAYS = 30;

/**
 * What switching a policy to Block would have denied, from the per-workload daily
 * rollup only (never raw events).
 */
@Injectable()
export class AuditToDenyService {
  constructor(
    private readonly db: TenantDb,
    private readonly policies: PolicyService,
    private readonly pool: IngestPool,
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
    const policy = await tx.policy.findFirst({ where: { AND: [{ id: policyId }, this.policies.visibleWhere(principal)] } });
    if (!policy) throw notFound(`policy ${policyId} does not exist or is not visible to you`);
    return policy;
  }

  /**
   * Two statements over the policy's per-workload daily rollup rows of the window (~120,000
   * a month at 2,000 workloads), run at the same time on two connections: per workload and
   * rule (the days a workload would have been denied on come back as bit masks, so the
   * distinct workloads per day need no grouping by day and workload), and per day from the
   * policy-level rows only (rule_id ''). One statement with both grouping sets computed every
   * aggregate for both and ran on one core. Read through pg directly: no Prisma row mapping.
   */
  private async fromRollups(principal: Principal, meta: ReportMeta): Promise<AuditToDenyReport> {
    const from = meta.from.getTime();
    const window = Prisma.sql`tenant_id = ${principal.tenantId}::uuid AND policy_id = ${meta.policyId} AND day >= ${meta.from} AND day < ${meta.to}
          AND decision IN ('AUDITED', 'DENIED') AND ${readableScopes(principal)}`;
    const perWorkload = Prisma.sql`
      SELECT NULL::timestamptz, cluster_id::text, namespace, owner_kind, owner_name, rule_id,
             sum(admissions)::int, coalesce(sum(admissions) FILTER (WHERE day >= ${meta.readyFrom}), 0)::int, max(last_at),
             bit_or(CASE WHEN d < ${MASK_DAYS} THEN 1 << d ELSE 0 END), bit_or(CASE WHEN d >= ${MASK_DAYS} AND d < ${2 * MASK_DAYS} THEN 1 << (d - ${MASK_DAYS}) ELSE 0 END),
             bit_or(CASE WHEN d >= ${2 * MASK_DAYS} THEN 1 << (d - ${2 * MASK_DAYS}) ELSE 0 END)
      FROM (
        SELECT day, cluster_id, namespace, owner_kind, owner_name, rule_id, admissions, last_at, ((date_part('epoch', day) - ${from / 1000}) / 86400)::int AS d
        FROM admission_workload_days WHERE ${window}
      ) r
      GROUP BY cluster_id, namespace, owner_kind, owner_name, rule_id`;
    const perDay = Prisma.sql`
      SELECT day, NULL::text, NULL::text, NULL::text, NULL::text, rule_id, sum(admissions)::int, 0, max(last_at), 0, 0, 0
      FROM admission_workload_days WHERE ${window} AND rule_id = ''
      GROUP BY day, rule_id`;
    const run = (sql: Prisma.Sql) =>
      this.pool.inTenant(principal.tenantId, async (client) => {
        // aggregated in memory, not spilled to disk
        await client.query("SELECT set_config('work_mem', '64MB', true)");
        return (await client.query<PassRow>({ text: sql.text, values: sql.values, rowMode: 'array' })).rows;
      });
    const [workloadRows, dayRows] = await Promise.all([run(perWorkload), run(perDay)]);
    const rows = workloadRows.concat(dayRows);

    const days = Math.round((meta.to.getTime() - from) / DAY_MS);
    const byDay = new Map<number, { admissions: number; workloads: number }>();
    for (const r of rows) if (r[0] !== null && r[5] === '') byDay.set(r[0].getTime(), { admissions: r[6], workloads: 0 });
    const workloads = new Map<string, { clusterId: string; namespace: string; kind: string; name: string; admissions: number; recent: number; lastAt: number; rules: string[] }>();
    const key = (r: PassRow) => `${r[1]}\u0000${r[2]}\u0000${r[3]}\u0000${r[4]}`;
    for (const r of rows) {
      if (r[0] !== null || r[5] !== '') continue;
      workloads.set(key(r), { clusterId: r[1]!, namespace: r[2]!, kind: r[3]!, name: r[4]!, admissions: r[6], recent: r[7], lastAt: r[8].getTime(), rules: [] });
      const masks = [r[9], r[10], r[11]];
      for (let d = 0; d < days; d++) {
        if ((masks[Math.floor(d / MASK_DAYS)]! >>> d % MASK_DAYS) & 1) {
          const e = byDay.get(from + d * DAY_MS);
          if (e) e.workloads++;
        }
      }
    }
    const byRule = new Map<string, BreakdownEntry>();
    for (const r of rows) {
      if (r[0] !== null || r[5] === '') continue;
      const rule = byRule.get(r[5]) ?? { key: r[5], admissions: 0, workloads: 0 };
      rule.admissions += r[6];
      rule.workloads++;
      byRule.set(r[5], rule);
      workloads.get(key(r))?.rules.push(r[5]);
    }
    return assembleReport(meta, [...workloads.values()], [...byRule.values()], (day) => byDay.get(day));
  }
}
