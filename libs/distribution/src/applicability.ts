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
  if (policy.clusterIds.length > 0) return policy.clusterIds.includes(cluster.id) ? { kind: 'CLUSTER', clusterId: cluster.id } : null;
  return policy.cloudScopeIds.length === 0 ? { kind: 'TENANT' } : { kind: 'CLOUD_SCOPE', cloudScopeId: cluster.cloudScopeId };
}

/** Kubernetes namespace glob: `*` any run of characters, `?` one character. */
export function namespaceGlob(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

export interface NamespaceDecision {
  readonly applies: boolean;
  /** The include pattern that matched (null when include is empty = every namespace). */
  readonly include: string | null;
  /** The exclude pattern that removed the namespace, if one did. */
  readonly exclude: string | null;
}

export function namespaceDecision(scope: { readonly include: readonly string[]; readonly exclude: readonly string[] }, namespace: string): NamespaceDecision {
  const exclude = scope.exclude.find((p) => namespaceGlob(p).test(namespace)) ?? null;
  const include = scope.include.length === 0 ? null : (scope.include.find((p) => namespaceGlob(p).test(namespace)) ?? undefined);
  if (include === undefined) return { applies: false, include: null, exclude };
  return { applies: exclude === null, include, exclude };
}
