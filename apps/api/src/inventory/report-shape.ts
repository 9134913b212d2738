import type { AuditToDenyReport, BreakdownEntry, DailyCount, SuggestedExemption, WorkloadViolations } from './inventory.types';

export const DAY_MS = 86_400_000;
export const MAX_SUGGESTIONS = 50;

/** The days a report covers: `days` whole UTC days up to and including today's. */
export function reportWindow(now: Date, days: number, readyAfterDays: number): { from: Date; to: Date; readyFrom: Date } {
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  return { from: new Date(today - (days - 1) * DAY_MS), to: new Date(today + DAY_MS), readyFrom: new Date(today - (readyAfterDays - 1) * DAY_MS) };
}

/** One workload's would-be denials on one day (and, for simulation, which rules fired). */
export interface ViolationRow {
  readonly day: number;
  readonly clusterId: string;
  readonly namespace: string;
  readonly ownerKind: string;
  readonly ownerName: string;
  readonly rules: ReadonlyMap<string, number>;
  readonly admissions: number;
  readonly lastAt: number;
}

export interface ReportMeta {
  readonly policyId: string | null;
  readonly policyName: string;
  readonly action: AuditToDenyReport['action'];
  readonly from: Date;
  readonly to: Date;
  readonly readyFrom: Date;
  readonly readyAfterDays: number;
  readonly workloadLimit: number;
}

const workloadKey = (r: Pick<ViolationRow, 'clusterId' | 'namespace' | 'ownerKind' | 'ownerName'>) => `${r.clusterId}\u0000${r.namespace}\u0000${r.ownerKind}\u0000${r.ownerName}`;

/** The report from violation rows, in memory: what simulation answers with (the stored report is the same shape from SQL). */
export function buildReport(rows: readonly ViolationRow[], meta: ReportMeta): AuditToDenyReport {
  const byRule = new Counter();
  const byNamespace = new Counter();
  const byCluster = new Counter();
  const byDay = new Counter();
  const workloads = new Map<string, { row: ViolationRow; admissions: number; recent: number; lastAt: number; rules: Set<string> }>();
  let total = 0;
  for (const r of rows) {
    const key = workloadKey(r);
    total += r.admissions;
    for (const [rule, n] of r.rules) byRule.add(rule, n, key);
    byNamespace.add(r.namespace, r.admissions, key);
    byCluster.add(r.clusterId, r.admissions, key);
    byDay.add(String(r.day), r.admissions, key);
    let w = workloads.get(key);
    if (!w) workloads.set(key, (w = { row: r, admissions: 0, recent: 0, lastAt: 0, rules: new Set() }));
    w.admissions += r.admissions;
    if (r.day >= meta.readyFrom.getTime()) w.recent += r.admissions;
    w.lastAt = Math.max(w.lastAt, r.lastAt);
    for (const rule of r.rules.keys()) w.rules.add(rule);
  }
  const list = [...workloads.values()];
  const byWorkload: WorkloadViolations[] = list
    .map((w) => ({ clusterId: w.row.clusterId, namespace: w.row.namespace, kind: w.row.ownerKind, name: w.row.ownerName, admissions: w.admissions, lastViolationAt: new Date(w.lastAt), rules: [...w.rules].sort() }))
    .sort(compareWorkloads)
    .slice(0, meta.workloadLimit);
  const suggestions: SuggestedExemption[] = list
    .filter((w) => w.recent > 0)
    .map((w) => ({ namespace: w.row.namespace, kind: w.row.ownerKind, name: w.row.ownerName, admissions: w.recent }))
    .sort((a, b) => b.admissions - a.admissions || cmp(a.namespace, b.namespace) || cmp(a.kind, b.kind) || cmp(a.name, b.name));
  const lastAt = list.reduce((m, w) => Math.max(m, w.lastAt), 0);
  return {
    policyId: meta.policyId,
    policyName: meta.policyName,
    action: meta.action,
    window: { from: meta.from, to: meta.to },
    wouldDenyAdmissions: total,
    wouldDenyWorkloads: workloads.size,
    byRule: byRule.entries(),
    byNamespace: byNamespace.entries(),
    byCluster: byCluster.entries(),
    byWorkload,
    dailyTrend: dailyTrend(meta.from, meta.to, (day) => byDay.get(String(day))),
    readiness: readiness(meta, lastAt ? new Date(lastAt) : null, suggestions),
  };
}

export function readiness(meta: Pick<ReportMeta, 'readyAfterDays'>, lastWouldDenyAt: Date | null, suggestions: readonly SuggestedExemption[]) {
  return {
    ready: suggestions.length === 0,
    readyAfterDays: meta.readyAfterDays,
    lastWouldDenyAt,
    suggestedExemptions: suggestions.slice(0, MAX_SUGGESTIONS),
    exemptionsNeeded: suggestions.length,
  };
}

export function dailyTrend(from: Date, to: Date, at: (day: number) => { admissions: number; workloads: number } | undefined): DailyCount[] {
  const out: DailyCount[] = [];
  for (let d = from.getTime(); d < to.getTime(); d += DAY_MS) out.push({ day: new Date(d), ...(at(d) ?? { admissions: 0, workloads: 0 }) });
  return out;
}

export function compareWorkloads(a: WorkloadViolations, b: WorkloadViolations): number {
  return b.admissions - a.admissions || cmp(a.clusterId, b.clusterId) || cmp(a.namespace, b.namespace) || cmp(a.kind, b.kind) || cmp(a.name, b.name);
}

export function compareEntries(a: BreakdownEntry, b: BreakdownEntry): number {
  return b.admissions - a.admissions || cmp(a.key, b.key);
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

class Counter {
  private readonly map = new Map<string, { admissions: number; workloads: Set<string> }>();
  add(key: string, admissions: number, workload: string): void {
    let e = this.map.get(key);
    if (!e) this.map.set(key, (e = { admissions: 0, workloads: new Set() }));
    e.admissions += admissions;
    e.workloads.add(workload);
  }
  get(key: string): { admissions: number; workloads: number } | undefined {
    const e = this.map.get(key);
    return e && { admissions: e.admissions, workloads: e.workloads.size };
  }
  entries(): BreakdownEntry[] {
    return [...this.map].map(([key, e]) => ({ key, admissions: e.admissions, workloads: e.workloads.size })).sort(compareEntries);
  }
}
