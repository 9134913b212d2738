import { WorkloadSource, type RunningWouldDeny } from '../running/running.types';
import type {
  AuditToDenyReport,
  BreakdownEntry,
  DailyCount,
  SuggestedExemption,
  WorkloadViolations,
} from './inventory.types';

export const DAY_MS = 86_400_000;
const MAX_SUGGESTIONS = 50;

/** The days a report covers: `days` whole UTC days up to and including today's. */
export function reportWindow(
  now: Date,
  days: number,
  readyAfterDays: number,
): { from: Date; to: Date; readyFrom: Date } {
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  return {
    from: new Date(today - (days - 1) * DAY_MS),
    to: new Date(today + DAY_MS),
    readyFrom: new Date(today - (readyAfterDays - 1) * DAY_MS),
  };
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

interface WorkloadTotal {
  readonly id: number;
  readonly clusterId: string;
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  admissions: number;
  recent: number;
  lastAt: number;
  readonly rules: Set<string>;
}

/**
 * Would-be denials summed as they are found (what simulation answers with; the stored
 * report is the same shape from SQL): per workload, per day and per rule, with workloads
 * counted by a small integer id rather than by their key, and namespaces and clusters
 * derived from the workloads at the end.
 */
export class ViolationTally {
  private readonly workloads = new Map<string, WorkloadTotal>();
  private readonly byDay = new Map<number, { admissions: number; workloads: Set<number> }>();
  private readonly byRule = new Map<string, { admissions: number; workloads: Set<number> }>();

  constructor(private readonly readyFrom: number) {}

  /** `admissions` admissions of one workload on `day` (UTC midnight, ms) that `rules` would have denied. */
  add(
    key: string,
    clusterId: string,
    namespace: string,
    kind: string,
    name: string,
    day: number,
    admissions: number,
    lastAt: number,
    rules: readonly string[],
  ): void {
    let w = this.workloads.get(key);
    if (!w)
      this.workloads.set(
        key,
        (w = {
          id: this.workloads.size,
          clusterId,
          namespace,
          kind,
          name,
          admissions: 0,
          recent: 0,
          lastAt: 0,
          rules: new Set(),
        }),
      );
    w.admissions += admissions;
    if (day >= this.readyFrom) w.recent += admissions;
    if (lastAt > w.lastAt) w.lastAt = lastAt;
    let d = this.byDay.get(day);
    if (!d) this.byDay.set(day, (d = { admissions: 0, workloads: new Set() }));
    d.admissions += admissions;
    d.workloads.add(w.id);
    for (const rule of rules) {
      w.rules.add(rule);
      let r = this.byRule.get(rule);
      if (!r) this.byRule.set(rule, (r = { admissions: 0, workloads: new Set() }));
      r.admissions += admissions;
      r.workloads.add(w.id);
    }
  }

  /** Keys of the workloads with a would-be denial. */
  keys(): IterableIterator<string> {
    return this.workloads.keys();
  }

  report(meta: ReportMeta): AuditToDenyReport {
    return assembleReport(
      meta,
      [...this.workloads.values()],
      [...this.byRule].map(([key, r]) => ({ key, admissions: r.admissions, workloads: r.workloads.size })),
      (day) => {
        const d = this.byDay.get(day);
        return d && { admissions: d.admissions, workloads: d.workloads.size };
      },
    );
  }
}

/** One workload's would-be denials over the window: what the stored report and simulation both sum. */
export interface WorkloadSummary {
  readonly clusterId: string;
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  readonly admissions: number;
  /** Admissions since the readiness window began. */
  readonly recent: number;
  /** Last would-be denial, epoch ms. */
  readonly lastAt: number;
  readonly rules: Iterable<string>;
}

/** The report from its per-workload, per-rule and per-day sums, however they were computed. */
export function assembleReport(
  meta: ReportMeta,
  list: readonly WorkloadSummary[],
  byRule: BreakdownEntry[],
  byDay: (day: number) => { admissions: number; workloads: number } | undefined,
): AuditToDenyReport {
  const breakdown = (of: (w: WorkloadSummary) => string): BreakdownEntry[] => {
    const m = new Map<string, BreakdownEntry>();
    for (const w of list) {
      const k = of(w);
      const e = m.get(k) ?? { key: k, admissions: 0, workloads: 0 };
      e.admissions += w.admissions;
      e.workloads++;
      m.set(k, e);
    }
    return [...m.values()].sort(compareEntries);
  };
  let total = 0;
  let lastAt = 0;
  for (const w of list) {
    total += w.admissions;
    lastAt = Math.max(lastAt, w.lastAt);
  }
  // sorted as summaries, and only the listed ones become report entries
  const byWorkload: WorkloadViolations[] = [...list]
    .sort(compareWorkloads)
    .slice(0, meta.workloadLimit)
    .map((w) => ({
      source: WorkloadSource.ADMISSION,
      clusterId: w.clusterId,
      namespace: w.namespace,
      kind: w.kind,
      name: w.name,
      admissions: w.admissions,
      lastViolationAt: new Date(w.lastAt),
      rules: [...w.rules].sort(),
    }));
  const suggestions: SuggestedExemption[] = list
    .filter((w) => w.recent > 0)
    .map((w) => ({
      source: WorkloadSource.ADMISSION,
      namespace: w.namespace,
      kind: w.kind,
      name: w.name,
      admissions: w.recent,
    }))
    .sort(
      (a, b) =>
        b.admissions - a.admissions || cmp(a.namespace, b.namespace) || cmp(a.kind, b.kind) || cmp(a.name, b.name),
    );
  return {
    policyId: meta.policyId,
    policyName: meta.policyName,
    action: meta.action,
    window: { from: meta.from, to: meta.to },
    wouldDenyAdmissions: total,
    wouldDenyWorkloads: list.length,
    byRule: byRule.sort(compareEntries),
    byNamespace: breakdown((w) => w.namespace),
    byCluster: breakdown((w) => w.clusterId),
    byWorkload,
    dailyTrend: dailyTrend(meta.from, meta.to, byDay),
    runningWouldDenyWorkloads: 0,
    runningWouldDenyPods: 0,
    runningWouldDeny: [],
    readiness: readiness(meta, list.length ? new Date(lastAt) : null, suggestions),
  };
}

/** Reasons named per running violator, at most; the count says the rest. */
const MAX_RUNNING_REASONS = 20;

/**
 * The report with the running workloads the policy would deny now (the background audit, or a
 * simulation of it): listed apart from the admission counts, and each keeps the policy not ready.
 */
export function withRunning(
  report: AuditToDenyReport,
  running: readonly RunningWouldDeny[],
  workloadLimit: number,
): AuditToDenyReport {
  if (running.length === 0) return report;
  const sorted = [...running].sort(
    (a, b) =>
      b.pods - a.pods ||
      cmp(a.clusterId, b.clusterId) ||
      cmp(a.namespace, b.namespace) ||
      cmp(a.kind, b.kind) ||
      cmp(a.name, b.name),
  );
  const reasons = [...report.readiness.reasons];
  for (const w of sorted.slice(0, MAX_RUNNING_REASONS))
    reasons.push(
      `${w.kind} ${w.namespace ? `${w.namespace}/` : ''}${w.name} in cluster ${w.clusterId} runs now (${w.pods} pod${w.pods === 1 ? '' : 's'}) and violates ${w.rules.join(', ')}: Block would deny it when it is admitted again`,
    );
  if (sorted.length > MAX_RUNNING_REASONS)
    reasons.push(`... and ${sorted.length - MAX_RUNNING_REASONS} more running workloads (see runningWouldDeny)`);
  return {
    ...report,
    runningWouldDenyWorkloads: sorted.length,
    runningWouldDenyPods: sorted.reduce((n, w) => n + w.pods, 0),
    runningWouldDeny: sorted.slice(0, workloadLimit),
    readiness: { ...report.readiness, ready: false, runningWouldDeny: sorted.length, reasons },
  };
}

function readiness(
  meta: Pick<ReportMeta, 'readyAfterDays'>,
  lastWouldDenyAt: Date | null,
  suggestions: readonly SuggestedExemption[],
) {
  return {
    ready: suggestions.length === 0,
    readyAfterDays: meta.readyAfterDays,
    lastWouldDenyAt,
    suggestedExemptions: suggestions.slice(0, MAX_SUGGESTIONS),
    exemptionsNeeded: suggestions.length,
    runningWouldDeny: 0,
    reasons:
      suggestions.length === 0
        ? []
        : [
            `${suggestions.length} workload${suggestions.length === 1 ? '' : 's'} had admissions Block would have denied in the last ${meta.readyAfterDays} day${meta.readyAfterDays === 1 ? '' : 's'} (see suggestedExemptions)`,
          ],
  };
}

function dailyTrend(
  from: Date,
  to: Date,
  at: (day: number) => { admissions: number; workloads: number } | undefined,
): DailyCount[] {
  const out: DailyCount[] = [];
  for (let d = from.getTime(); d < to.getTime(); d += DAY_MS)
    out.push({ day: new Date(d), ...(at(d) ?? { admissions: 0, workloads: 0 }) });
  return out;
}

function compareWorkloads(a: WorkloadSummary, b: WorkloadSummary): number {
  return (
    b.admissions - a.admissions ||
    cmp(a.clusterId, b.clusterId) ||
    cmp(a.namespace, b.namespace) ||
    cmp(a.kind, b.kind) ||
    cmp(a.name, b.name)
  );
}

function compareEntries(a: BreakdownEntry, b: BreakdownEntry): number {
  return b.admissions - a.admissions || cmp(a.key, b.key);
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
