import { createHash } from 'node:crypto';
import type { Alert } from '@portcullis/alerts';
import type { AlertRuleRecord, EventCandidate, Folded } from '@portcullis/alert-rules';

/** A rule as the worker reads it (the stored record, destinations included). */
export type RuleRow = AlertRuleRecord;

/**
 * A uuid (v4 layout) derived from a key: the same occurrence evaluated twice (a retried job, a
 * re-sent batch) dispatches the same alert id, which dispatchAlert stores and queues once.
 */
export function stableAlertId(key: string): string {
  const h = createHash('sha256').update(key).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
/** Titles are one line. */
const line = (s: string) => cut(s.replace(/[\r\n]+/g, ' '), 200);
const where = (c: EventCandidate) => (c.ns ? `${c.ns}/` : '');

function decisionOf(d: string): Alert['decision'] {
  return d === 'DENIED' ? 'DENY' : d === 'AUDITED' ? 'WARN' : 'ALLOW';
}

export interface ClusterRef {
  readonly id: string;
  readonly name: string;
  readonly cloudScopeId: string;
}

/** One sample line of a digest. */
export function sampleOf(c: EventCandidate, cluster: ClusterRef): Record<string, string> {
  return {
    occurredAt: c.t,
    cluster: cluster.name,
    namespace: c.ns,
    workload: `${c.ok}/${c.on}`,
    object: `${c.k}/${c.n}`,
    policy: c.pn,
    rule: c.r,
    message: cut(c.m, 200),
  };
}

/** The alert of one matched event (BLOCK_DENIAL) or one new workload and rule (FIRST_WOULD_DENY). */
export function eventAlert(id: string, rule: RuleRow, c: EventCandidate, cluster: ClusterRef): Alert {
  const block = c.x === 'BLOCK_DENIAL';
  const title = block
    ? `Blocked: ${c.k} ${where(c)}${c.n || c.on} denied by "${c.pn}" (${c.r}) in ${cluster.name}`
    : `Would be denied: ${c.ok} ${where(c)}${c.on} breaks ${c.r} of Audit policy "${c.pn}" in ${cluster.name}`;
  const summary = block
    ? `${c.k} ${where(c)}${c.n || '(generated name)'} of ${c.ok} ${c.on}, requested by ${c.u}, was denied by the Block policy "${c.pn}", rule ${c.r}: ${c.m}. Fix the workload as the rule says, or exempt it in the policy.`
    : `${c.ok} ${where(c)}${c.on} in cluster ${cluster.name} breaks rule ${c.r} of the Audit policy "${c.pn}": ${c.m}. It is admitted today; switching the policy to Block would deny it. Fix the workload or exempt it before switching.`;
  return {
    id,
    tenantId: rule.tenantId,
    ruleId: rule.id,
    ruleName: rule.name,
    kind: c.x,
    severity: rule.severity as Alert['severity'],
    title: line(title),
    summary: cut(summary, 2000),
    occurredAt: c.t,
    count: 1,
    cloudScopeId: cluster.cloudScopeId,
    cluster: { id: cluster.id, name: cluster.name },
    ...(c.ns ? { namespace: c.ns } : {}),
    workload: { kind: c.ok, name: c.on },
    policy: { id: c.p, name: c.pn, action: block ? 'BLOCK' : 'AUDIT' },
    rule: c.r,
    decision: decisionOf(c.d),
    details: { eventId: c.e, object: `${c.k}/${c.n}`, requestedBy: c.u },
  };
}

/** A digest: what a rule folded within one window, with its count and up to 10 samples. */
export function digestAlert(
  id: string,
  rule: RuleRow,
  folded: Folded,
  windowStart: number,
  windowEnd: number,
  scope?: { readonly cloudScopeId: string; readonly cluster?: { readonly id: string; readonly name: string } },
): Alert {
  const kind = rule.kind as Alert['kind'];
  const what: Record<string, string> = {
    BLOCK_DENIAL: 'more Block denials',
    FIRST_WOULD_DENY: 'more workloads with a first would-be denial',
    CONFIG_CHANGE: 'more configuration changes',
  };
  return {
    id,
    tenantId: rule.tenantId,
    ruleId: rule.id,
    ruleName: rule.name,
    kind,
    severity: rule.severity as Alert['severity'],
    title: line(`${folded.count} ${what[kind] ?? 'more occurrences'} (alert rule "${rule.name}")`),
    summary: cut(
      `Alert rule "${rule.name}" matched ${folded.count} more time(s) between ${new Date(windowStart).toISOString()} and ${new Date(windowEnd).toISOString()}, after the alert sent at the window's start; ${Math.min(folded.samples.length, folded.count)} example(s) attached.`,
      2000,
    ),
    occurredAt: folded.firstAt || new Date(windowStart).toISOString(),
    count: folded.count,
    windowEnd: new Date(windowEnd).toISOString(),
    ...(scope ? { cloudScopeId: scope.cloudScopeId } : {}),
    ...(scope?.cluster ? { cluster: scope.cluster } : {}),
    samples: folded.samples.slice(0, 10),
  };
}

/** An alert about a cluster's condition (AGENT_SILENT, BUNDLE_BEHIND, EVENTS_DROPPED). */
export function clusterAlert(
  id: string,
  rule: RuleRow,
  cluster: ClusterRef,
  occurredAt: Date,
  title: string,
  summary: string,
  details: Record<string, unknown>,
): Alert {
  return {
    id,
    tenantId: rule.tenantId,
    ruleId: rule.id,
    ruleName: rule.name,
    kind: rule.kind as Alert['kind'],
    severity: rule.severity as Alert['severity'],
    title: line(title),
    summary: cut(summary, 2000),
    occurredAt: occurredAt.toISOString(),
    count: 1,
    cloudScopeId: cluster.cloudScopeId,
    cluster: { id: cluster.id, name: cluster.name },
    details,
  };
}

/** A tenant-wide alert (POLICY_READY, CONFIG_CHANGE): no cloud scope, so tenant-level readers see it. */
export function tenantAlert(
  id: string,
  rule: RuleRow,
  occurredAt: Date,
  title: string,
  summary: string,
  extra: Partial<Alert>,
): Alert {
  return {
    id,
    tenantId: rule.tenantId,
    ruleId: rule.id,
    ruleName: rule.name,
    kind: rule.kind as Alert['kind'],
    severity: rule.severity as Alert['severity'],
    title: line(title),
    summary: cut(summary, 2000),
    occurredAt: occurredAt.toISOString(),
    count: 1,
    ...extra,
  };
}
