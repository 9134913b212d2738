import { compileGlob, type Matcher } from '@portcullis/policy-engine';

/** What an alert rule watches (the `alerts` contract's AlertKind without TEST). */
export const ALERT_RULE_KINDS = [
  'BLOCK_DENIAL',
  'FIRST_WOULD_DENY',
  'POLICY_READY',
  'AGENT_SILENT',
  'BUNDLE_BEHIND',
  'EVENTS_DROPPED',
  'CONFIG_CHANGE',
] as const;
export type AlertRuleKind = (typeof ALERT_RULE_KINDS)[number];

/** Kinds matched against ingested admission events (in memory, after the batch commits). */
export const EVENT_RULE_KINDS: readonly AlertRuleKind[] = ['BLOCK_DENIAL', 'FIRST_WOULD_DENY'];
/** Kinds the worker's periodic pass checks. */
export const PERIODIC_RULE_KINDS: readonly AlertRuleKind[] = [
  'POLICY_READY',
  'AGENT_SILENT',
  'BUNDLE_BEHIND',
  'EVENTS_DROPPED',
  'CONFIG_CHANGE',
];
/** Kinds that need `thresholdMinutes`. */
export const THRESHOLD_RULE_KINDS: readonly AlertRuleKind[] = ['AGENT_SILENT', 'BUNDLE_BEHIND'];

export const ALERT_SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** A rule as stored, with the destinations it sends to. */
export interface AlertRuleRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly kind: string;
  readonly severity: string;
  readonly enabled: boolean;
  readonly cloudScopeIds: readonly string[];
  readonly clusterIds: readonly string[];
  readonly namespacePatterns: readonly string[];
  readonly policyIds: readonly string[];
  readonly ruleIds: readonly string[];
  readonly decisions: readonly string[];
  readonly thresholdMinutes: number | null;
  readonly readyAfterDays: number;
  readonly digestSeconds: number;
  readonly destinationIds: readonly string[];
}

/**
 * A rule ready to match: every filter list is a set (empty = any), namespace patterns are
 * compiled once by the policy engine's linear glob matcher (no RegExp from input).
 */
export class CompiledAlertRule {
  readonly kind: AlertRuleKind;
  readonly severity: AlertSeverity;
  private readonly cloudScopes: ReadonlySet<string>;
  private readonly clusters: ReadonlySet<string>;
  private readonly namespaces: readonly Matcher[];
  private readonly policies: ReadonlySet<string>;
  private readonly rules: ReadonlySet<string>;
  private readonly decisions: ReadonlySet<string>;

  constructor(readonly record: AlertRuleRecord) {
    this.kind = asKind(record.kind);
    this.severity = (ALERT_SEVERITIES as readonly string[]).includes(record.severity)
      ? (record.severity as AlertSeverity)
      : 'MEDIUM';
    this.cloudScopes = new Set(record.cloudScopeIds.map((s) => s.toLowerCase()));
    this.clusters = new Set(record.clusterIds.map((s) => s.toLowerCase()));
    this.namespaces = record.namespacePatterns.map((p) => compileGlob(p));
    this.policies = new Set(record.policyIds.map((s) => s.toLowerCase()));
    this.rules = new Set(record.ruleIds);
    this.decisions = new Set(record.decisions);
  }

  get id(): string {
    return this.record.id;
  }

  /** The cluster (and its cloud scope) passes the rule's cloud scope and cluster filters. */
  matchesCluster(cloudScopeId: string, clusterId: string): boolean {
    return (
      (this.cloudScopes.size === 0 || this.cloudScopes.has(cloudScopeId.toLowerCase())) &&
      (this.clusters.size === 0 || this.clusters.has(clusterId.toLowerCase()))
    );
  }

  /** A namespace passes the patterns (none = any; a cluster-scoped object is the empty namespace). */
  matchesNamespace(namespace: string): boolean {
    if (this.namespaces.length === 0) return true;
    for (const m of this.namespaces) if (m(namespace)) return true;
    return false;
  }

  matchesPolicy(policyId: string): boolean {
    return this.policies.size === 0 || this.policies.has(policyId.toLowerCase());
  }

  matchesRule(ruleId: string): boolean {
    return this.rules.size === 0 || this.rules.has(ruleId);
  }

  matchesDecision(decision: string): boolean {
    return this.decisions.size === 0 || this.decisions.has(decision);
  }

  /** Policy ids the rule names (empty = every policy). */
  get policyIds(): readonly string[] {
    return [...this.policies];
  }
}

function asKind(kind: string): AlertRuleKind {
  if (!(ALERT_RULE_KINDS as readonly string[]).includes(kind)) throw new Error(`unknown alert rule kind "${kind}"`);
  return kind as AlertRuleKind;
}

/** Rules of a tenant, compiled; a stored row this code cannot read (a kind from a newer version) is skipped. */
export function compileRules(records: readonly AlertRuleRecord[]): CompiledAlertRule[] {
  const out: CompiledAlertRule[] = [];
  for (const r of records) {
    if (!(ALERT_RULE_KINDS as readonly string[]).includes(r.kind)) continue;
    out.push(new CompiledAlertRule(r));
  }
  return out;
}
