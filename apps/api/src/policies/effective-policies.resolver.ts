import { Args, ArgsType, Field, ID, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { IsString, IsUUID, Matches } from 'class-validator';
import { namespaceDecision, scopeMatch } from '@portcullis/distribution';
import { CLOCK, type Clock } from '@portcullis/platform';
import { Inject } from '@nestjs/common';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility, hidden } from '../tenancy/visibility';
import { policyInclude, toPolicy } from './policy.mapper';
import { Policy } from './policy.types';

@ArgsType()
class EffectivePoliciesArgs {
  @Field(() => ID)
  @IsUUID('all')
  clusterId!: string;

  @Field()
  @IsString()
  @Matches(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { message: 'namespace must be a Kubernetes namespace name' })
  namespace!: string;
}

@ObjectType({ description: 'A policy that applies to a cluster and namespace, and why.' })
export class EffectivePolicy {
  @Field(() => Policy)
  policy!: Policy;

  @Field({ description: 'TENANT, CLOUD_SCOPE or CLUSTER: the part of the scope that reached the cluster.' })
  matchedBy!: string;

  @Field({ description: 'Human-readable reason, e.g. "cloud scope AWS_ACCOUNT 123456789012; namespace matches prod-*".' })
  reason!: string;

  @Field({ description: 'Whether enforcement is active (the policy has at least one enabled rule).' })
  enforced!: boolean;
}

@Resolver(() => EffectivePolicy)
export class EffectivePoliciesResolver {
  constructor(
    private readonly db: TenantDb,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Access('read')
  @Query(() => [EffectivePolicy], { description: 'Which policies apply in this cluster and namespace, and which scope matched.' })
  effectivePolicies(@CurrentPrincipal() principal: Principal, @Args() { clusterId, namespace }: EffectivePoliciesArgs): Promise<EffectivePolicy[]> {
    return this.db.run(principal, async (tx) => {
      const view = Visibility.of(principal);
      const cluster = await tx.cluster.findFirst({ where: { AND: [{ id: clusterId }, view.clusters()] }, include: { cloudScope: true } });
      if (!cluster) throw hidden('cluster', clusterId);
      const rows = await tx.policy.findMany({ where: view.policies(cluster.cloudScopeId), include: policyInclude, orderBy: [{ name: 'asc' }] });
      const now = this.clock.now();
      const out: EffectivePolicy[] = [];
      for (const row of rows) {
        const match = scopeMatch({ id: row.id, cloudScopeIds: row.cloudScopes.map((s) => s.cloudScopeId), clusterIds: row.clusters.map((c) => c.clusterId) }, cluster);
        if (!match) continue;
        const ns = namespaceDecision({ include: row.namespaceInclude, exclude: row.namespaceExclude }, namespace);
        if (!ns.applies) continue;
        const where =
          match.kind === 'TENANT'
            ? 'tenant-wide scope'
            : match.kind === 'CLOUD_SCOPE'
              ? `cloud scope ${cluster.cloudScope.provider} ${cluster.cloudScope.externalId}`
              : `cluster ${cluster.name}`;
        out.push({
          policy: toPolicy(row, now, view),
          matchedBy: match.kind,
          reason: `${where}; ${ns.include ? `namespace matches ${ns.include}` : 'every namespace'}`,
          enforced: row.rules.some((r) => r.enabled),
        });
      }
      return out;
    });
  }
}
