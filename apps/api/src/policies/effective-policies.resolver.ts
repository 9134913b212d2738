import { Args, Query, Resolver } from '@nestjs/graphql';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { EffectivePoliciesService } from './effective-policies.service';
import { EffectivePoliciesArgs, EffectivePolicy } from './effective-policies.types';

@Resolver(() => EffectivePolicy)
export class EffectivePoliciesResolver {
  constructor(private readonly effective: EffectivePoliciesService) {}

  @Access('read')
  @Query(() => [EffectivePolicy], {
    description: 'Which policies apply in this cluster and namespace, and which scope matched.',
  })
  effectivePolicies(
    @CurrentPrincipal() principal: Principal,
    @Args() { clusterId, namespace }: EffectivePoliciesArgs,
  ): Promise<EffectivePolicy[]> {
    return this.effective.inNamespace(principal, clusterId, namespace);
  }
}
