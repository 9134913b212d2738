import type { Prisma, TenantTx } from '@portcullis/db';
import { toCloudScope } from '../cloud-scopes/cloud-scope.service';
import { toCluster } from '../clusters/cluster.service';
import type { Principal } from '../tenancy/principal';
import { Visibility, hidden } from '../tenancy/visibility';
import type { MatchMode, Policy, PolicyExemption } from './policy.types';

export const policyInclude = {
  rules: { orderBy: { ruleId: 'asc' } },
  cloudScopes: { include: { cloudScope: true } },
  clusters: { include: { cluster: { include: { cloudScope: true } } } },
  exemptions: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] },
} as const satisfies Prisma.PolicyInclude;

export type PolicyRow = Prisma.PolicyGetPayload<{ include: typeof policyInclude }>;

/** Loads a policy the caller can read; a policy it cannot read does not exist for it. */
export async function loadPolicy(tx: TenantTx, principal: Principal, id: string): Promise<PolicyRow> {
  const row = await tx.policy.findFirst({
    where: { AND: [{ id }, Visibility.of(principal).policies()] },
    include: policyInclude,
  });
  if (!row) throw hidden('policy', id);
  return row;
}

/** What an exemption exempts, as stored in policy_exemptions.criteria. */
export interface ExemptionCriteria {
  readonly namespaces: string[];
  readonly kinds: string[];
  readonly names: string[];
  readonly images: string[];
  readonly labelSelector: Record<string, string> | null;
  readonly cves: string[];
  readonly rules: string[];
  readonly match: MatchMode;
}

export function toExemption(row: PolicyRow['exemptions'][number], now: Date): PolicyExemption {
  const c = row.criteria as unknown as ExemptionCriteria;
  return {
    id: row.id,
    namespaces: c.namespaces ?? [],
    kinds: c.kinds ?? [],
    names: c.names ?? [],
    images: c.images ?? [],
    labelSelector: c.labelSelector ?? null,
    cves: c.cves ?? [],
    rules: c.rules ?? [],
    match: c.match,
    reason: row.reason,
    grantedBy: row.grantedBy,
    expiresAt: row.expiresAt,
    active: row.expiresAt === null || row.expiresAt > now,
    createdAt: row.createdAt,
  };
}

/**
 * The policy as `view` may see it: the cloud scopes and clusters of its scope that the
 * caller cannot read are counted, never named (a policy spanning two scopes is visible
 * to a reader of either).
 */
export function toPolicy(row: PolicyRow, now: Date, view: Visibility): Policy {
  const scopes = view.partition(row.cloudScopes, (s) => s.cloudScopeId);
  const clusters = view.partition(row.clusters, (c) => c.cluster.cloudScopeId);
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    type: row.type,
    action: row.action,
    isDefault: row.isDefault,
    version: row.version,
    scope: {
      cloudScopes: scopes.shown.map((s) => toCloudScope(s.cloudScope)),
      clusters: clusters.shown.map((c) => toCluster(c.cluster)),
      hiddenCloudScopes: scopes.hidden,
      hiddenClusters: clusters.hidden,
      namespaces: { include: row.namespaceInclude, exclude: row.namespaceExclude },
    },
    rules: row.rules.map((r) => ({
      ruleId: r.ruleId,
      enabled: r.enabled,
      params: r.params as Record<string, unknown>,
    })),
    exemptions: row.exemptions.map((e) => toExemption(e, now)),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    createdBy: row.createdBy,
    updatedBy: row.updatedBy,
  };
}

/**
 * The cloud scopes a policy covers: its named scopes, else the scopes of its named
 * clusters; empty = the whole tenant. Write access is checked on every one of them.
 */
export function coveredScopeIds(row: Pick<PolicyRow, 'cloudScopes' | 'clusters'>): string[] {
  if (row.cloudScopes.length) return row.cloudScopes.map((s) => s.cloudScopeId);
  return [...new Set(row.clusters.map((c) => c.cluster.cloudScopeId))];
}

/** Audit snapshot: the policy as a security reviewer reads it, whole (the audit log's readers are tenant-level). */
export function auditSnapshot(row: PolicyRow, now: Date) {
  const p = toPolicy(row, now, Visibility.unrestricted);
  return {
    name: p.name,
    description: p.description,
    type: p.type,
    action: p.action,
    version: p.version,
    scope: {
      cloudScopeIds: p.scope.cloudScopes.map((s) => s.id),
      clusterIds: p.scope.clusters.map((c) => c.id),
      namespaces: p.scope.namespaces,
    },
    rules: p.rules.filter((r) => r.enabled).map((r) => ({ ruleId: r.ruleId, params: r.params })),
    exemptions: p.exemptions.map((e) => ({ id: e.id, reason: e.reason, expiresAt: e.expiresAt })),
  };
}
