import type { AdmissionEvent } from '@portcullis/contracts';
import type { CompiledAlertRule } from './model';

/** Where a batch came from: the agent credential's cluster. */
export interface BatchSource {
  readonly tenantId: string;
  readonly clusterId: string;
  readonly cloudScopeId: string;
}

/**
 * One match of an event against an alert rule, compact (it travels in a job): the rule, the
 * event, the workload and the finding that matched.
 */
export interface EventCandidate {
  /** alert rule id */
  readonly a: string;
  /** BLOCK_DENIAL or FIRST_WOULD_DENY */
  readonly x: 'BLOCK_DENIAL' | 'FIRST_WOULD_DENY';
  /** event id */
  readonly e: string;
  /** occurredAt (ISO) */
  readonly t: string;
  /** namespace ('' for cluster-scoped objects) */
  readonly ns: string;
  /** object kind and name */
  readonly k: string;
  readonly n: string;
  /** owner (workload) kind and name */
  readonly ok: string;
  readonly on: string;
  /** event decision */
  readonly d: string;
  /** policy id, name and the engine rule id of the finding */
  readonly p: string;
  readonly pn: string;
  readonly r: string;
  /** the finding's message, cut to MESSAGE_MAX */
  readonly m: string;
  /** the requesting user */
  readonly u: string;
}

const MESSAGE_MAX = 300;

/**
 * Matches the events of one stored batch against a tenant's event rules, in memory (no I/O).
 * BLOCK_DENIAL: a non-dry-run event decided DENIED, through its first Block finding (not
 * exempted) that passes the filters — one candidate per (rule, event). FIRST_WOULD_DENY: every
 * Audit finding (not exempted) of a non-dry-run event that passes the filters — one candidate
 * per (rule, workload, policy, engine rule) within the batch; the worker keeps it to the first
 * ever across batches.
 */
export function matchBatch(
  rules: readonly CompiledAlertRule[],
  source: BatchSource,
  events: readonly AdmissionEvent[],
  indexes?: readonly number[],
): EventCandidate[] {
  const active = rules.filter(
    (r) =>
      (r.kind === 'BLOCK_DENIAL' || r.kind === 'FIRST_WOULD_DENY') &&
      r.matchesCluster(source.cloudScopeId, source.clusterId),
  );
  if (active.length === 0) return [];
  const out: EventCandidate[] = [];
  const seen = new Set<string>();
  const count = indexes ? indexes.length : events.length;
  for (let j = 0; j < count; j++) {
    const e = events[indexes ? indexes[j]! : j]!;
    if (e.dryRun || e.findings.length === 0) continue;
    const ns = e.namespace ?? '';
    for (const rule of active) {
      if (!rule.matchesDecision(e.decision) || !rule.matchesNamespace(ns)) continue;
      if (rule.kind === 'BLOCK_DENIAL') {
        if (e.decision !== 'DENIED') continue;
        const f = e.findings.find(
          (f) => f.action === 'BLOCK' && !f.exempted && rule.matchesPolicy(f.policyId) && rule.matchesRule(f.ruleId),
        );
        if (f) out.push(candidate(rule, e, ns, f));
      } else {
        for (const f of e.findings) {
          if (f.action !== 'AUDIT' || f.exempted || !rule.matchesPolicy(f.policyId) || !rule.matchesRule(f.ruleId))
            continue;
          const key = `${rule.id}\u0000${ns}\u0000${e.owner.kind}\u0000${e.owner.name}\u0000${f.policyId}\u0000${f.ruleId}`;
          if (seen.has(key)) continue;
          seen.add(key);
          out.push(candidate(rule, e, ns, f));
        }
      }
    }
  }
  return out;
}

function candidate(
  rule: CompiledAlertRule,
  e: AdmissionEvent,
  ns: string,
  f: AdmissionEvent['findings'][number],
): EventCandidate {
  return {
    a: rule.id,
    x: rule.kind as EventCandidate['x'],
    e: e.eventId,
    t: e.occurredAt,
    ns,
    k: e.kind,
    n: e.name,
    ok: e.owner.kind,
    on: e.owner.name,
    d: e.decision,
    p: f.policyId,
    pn: f.policyName,
    r: f.ruleId,
    m: f.message.length > MESSAGE_MAX ? `${f.message.slice(0, MESSAGE_MAX - 1)}…` : f.message,
    u: e.requestingUser.username.slice(0, 200),
  };
}
