import { Inject, Injectable } from '@nestjs/common';
import type { TenantTx } from '@portcullis/db';
import { InventoryStore } from '@portcullis/inventory';
import { CLOCK, badInput, type Clock } from '@portcullis/platform';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility, hidden } from '../tenancy/visibility';
import type { AuditToDenyReport, BreakdownEntry, ReportWindowArgs } from './inventory.types';
import { RunningWorkloadsService } from '../running/running-workloads.service';
import {
  DAY_MS,
  assembleReport,
  reportWindow,
  withRunning,
  type ReportMeta,
  type WorkloadSummary,
} from './report-shape';

/**
 * What switching a policy to Block would have denied, from the per-workload month
 * rollup only (never raw events).
 */
@Injectable()
export class AuditToDenyService {
  constructor(
    private readonly db: TenantDb,
    private readonly store: InventoryStore,
    private readonly running: RunningWorkloadsService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  report(principal: Principal, policyId: string, args: ReportWindowArgs): Promise<AuditToDenyReport> {
    if (args.readyAfterDays > args.days) throw badInput('readyAfterDays', 'readyAfterDays must be at most days');
    const w = reportWindow(this.clock.now(), args.days, args.readyAfterDays);
    return this.db
      .run(principal, (tx) => this.visiblePolicy(tx, principal, policyId))
      .then(async (policy) => {
        const meta: ReportMeta = {
          policyId,
          policyName: policy.name,
          action: policy.action,
          ...w,
          readyAfterDays: args.readyAfterDays,
          workloadLimit: args.workloadLimit,
        };
        // admissions from the rollups; the workloads running now (background audit) apart, each keeping it not ready
        const [report, running] = await Promise.all([
          this.fromRollups(principal, meta),
          this.running.wouldDeny(principal, policyId),
        ]);
        return withRunning(report, running, args.workloadLimit);
      });
  }

  async visiblePolicy(tx: TenantTx, principal: Principal, policyId: string) {
    const policy = await tx.policy.findFirst({
      where: { AND: [{ id: policyId }, Visibility.of(principal).policies()] },
    });
    if (!policy) throw hidden('policy', policyId);
    return policy;
  }

  /** The policy's per-workload month rollup rows of the window (InventoryStore.auditToDenyRows), summed per workload, rule and day here. */
  private async fromRollups(principal: Principal, meta: ReportMeta): Promise<AuditToDenyReport> {
    const from = meta.from.getTime();
    const days = Math.round((meta.to.getTime() - from) / DAY_MS);
    const rows = await this.store.auditToDenyRows(
      principal.tenantId,
      meta.policyId!,
      meta,
      Visibility.of(principal).sql(),
    );

    const perDay = new Float64Array(days);
    const workloadsPerDay = new Uint32Array(days);
    const workloads: WorkloadSummary[] = [];
    const byRule = new Map<string, BreakdownEntry>();
    for (const [
      clusterId,
      namespace,
      kind,
      name,
      admissions,
      recent,
      lastAt,
      daySegments,
      rules,
      ruleAdmissions,
    ] of rows) {
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
      workloads.push({
        clusterId,
        namespace,
        kind,
        name,
        admissions: Number(admissions),
        recent: Number(recent),
        lastAt: Number(lastAt),
        rules: rules ?? [],
      });
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
