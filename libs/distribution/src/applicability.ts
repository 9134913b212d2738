/**
 * Which policies apply to a cluster, and why. Used by the bundle compiler (what goes
 * into a cluster's bundle) and by the API's effectivePolicies (what a team sees), so
 * the two can never disagree.
 */
export interface ScopedPolicy {
  readonly id: string;
  readonly cloudScopeIds: readonly string[];
  readonly clusterIds: readonly string[];
}

/**
 * A stored policy's scope as the matcher reads it: the rows of its cloud-scope and cluster
 * links, whatever else the caller loaded with them. The one mapping, so the compiler, the
 * rollout and effectivePolicies cannot read a policy's scope differently.
 */
export function policyScopeOf(row: {
  readonly id: string;
  readonly cloudScopes: ReadonlyArray<{ readonly cloudScopeId: string }>;
  readonly clusters: ReadonlyArray<{ readonly clusterId: string }>;
}): ScopedPolicy {
  return {
    id: row.id,
    cloudScopeIds: row.cloudScopes.map((s) => s.cloudScopeId),
    clusterIds: row.clusters.map((c) => c.clusterId),
  };
}

export interface ClusterRef {
  readonly id: string;
  readonly cloudScopeId: string;
}

export type ScopeMatch =
  | { readonly kind: 'TENANT' }
  | { readonly kind: 'CLOUD_SCOPE'; readonly cloudScopeId: string }
  | { readonly kind: 'CLUSTER'; readonly clusterId: string };

/** How a policy's scope reaches a cluster, or null when it does not. */
export function scopeMatch(policy: ScopedPolicy, cluster: ClusterRef): ScopeMatch | null {
  const inScopes = policy.cloudScopeIds.length === 0 || policy.cloudScopeIds.includes(cluster.cloudScopeId);
  if (!inScopes) return null;
  if (policy.clusterIds.length > 0)
    return policy.clusterIds.includes(cluster.id) ? { kind: 'CLUSTER', clusterId: cluster.id } : null;
  return policy.cloudScopeIds.length === 0
    ? { kind: 'TENANT' }
    : { kind: 'CLOUD_SCOPE', cloudScopeId: cluster.cloudScopeId };
}

/**
 * Namespaces are decided by the engine's own function, so the API's effectivePolicies and
 * the agents that apply the bundle's namespace patterns can never disagree.
 */
export { namespaceDecision, type NamespaceDecision } from '@portcullis/policy-engine';

/** A stored exemption row, as the compiler and the simulator read it. */
export interface ExemptionRow {
  readonly id: string;
  readonly criteria: unknown;
  readonly reason: string;
  readonly grantedBy: string;
  readonly expiresAt: Date | null;
}

/**
 * The exemptions in force at `now`, in the bundle's form (criteria spread, expiry as ISO text).
 * Expired ones stop applying by themselves and leave the next bundle; the webhook's bundle and
 * a simulation read the same rows the same way.
 */
export function liveExemptions(rows: readonly ExemptionRow[], now: Date): Array<Record<string, unknown>> {
  return rows
    .filter((e) => e.expiresAt === null || e.expiresAt > now)
    .map((e) => ({
      ...(e.criteria as Record<string, unknown>),
      id: e.id,
      reason: e.reason,
      grantedBy: e.grantedBy,
      expiresAt: e.expiresAt?.toISOString() ?? null,
    }));
}
