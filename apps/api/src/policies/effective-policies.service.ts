import { Inject, Injectable } from '@nestjs/common';
import { namespaceDecision, policyScopeOf, scopeMatch, type ScopeMatch } from '@portcullis/distribution';
import type { Prisma } from '@portcullis/db';
import { CLOCK, type Clock } from '@portcullis/platform';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility, hidden } from '../tenancy/visibility';
import type { EffectivePolicy } from './effective-policies.types';
import { policyInclude, toPolicy } from './policy.mapper';

type ClusterRow = Prisma.ClusterGetPayload<{ include: { cloudScope: true } }>;

/**
 * Which of the policies the caller reads apply in a cluster and namespace, and why: the
 * scope match and namespace decision the bundle compiler and the agents use.
 */
@Injectable()
export class EffectivePoliciesService {
  constructor(
    private readonly db: TenantDb,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  inNamespace(principal: Principal, clusterId: string, namespace: string): Promise<EffectivePolicy[]> {
    return this.db.run(principal, async (tx) => {
      const view = Visibility.of(principal);
      const cluster = await tx.cluster.findFirst({
        where: { AND: [{ id: clusterId }, view.clusters()] },
        include: { cloudScope: true },
      });
      if (!cluster) throw hidden('cluster', clusterId);
      const rows = await tx.policy.findMany({
        where: view.policies(cluster.cloudScopeId),
        include: policyInclude,
        orderBy: [{ name: 'asc' }],
      });
      const now = this.clock.now();
      const out: EffectivePolicy[] = [];
      for (const row of rows) {
        const match = scopeMatch(policyScopeOf(row), cluster);
        if (!match) continue;
        const ns = namespaceDecision({ include: row.namespaceInclude, exclude: row.namespaceExclude }, namespace);
        if (!ns.applies) continue;
        out.push({
          policy: toPolicy(row, now, view),
          matchedBy: match.kind,
          reason: `${matchedWhere(match, cluster)}; ${ns.include ? `namespace matches ${ns.include}` : 'every namespace'}`,
          enforced: row.rules.some((r) => r.enabled),
        });
      }
      return out;
    });
  }
}

function matchedWhere(match: ScopeMatch, cluster: ClusterRow): string {
  switch (match.kind) {
    case 'TENANT':
      return 'tenant-wide scope';
    case 'CLOUD_SCOPE':
      return `cloud scope ${cluster.cloudScope.provider} ${cluster.cloudScope.externalId}`;
    case 'CLUSTER':
      return `cluster ${cluster.name}`;
  }
}
