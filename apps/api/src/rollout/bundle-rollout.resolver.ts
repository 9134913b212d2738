import { Args, Query, Resolver } from '@nestjs/graphql';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { BundleRolloutService } from './bundle-rollout.service';
import { BundleRollout, BundleRolloutArgs } from './bundle-rollout.types';

@Resolver(() => BundleRollout)
export class BundleRolloutResolver {
  constructor(private readonly rollouts: BundleRolloutService) {}

  @Access('read')
  @Query(() => BundleRollout)
  bundleRollout(@CurrentPrincipal() principal: Principal, @Args() args: BundleRolloutArgs): Promise<BundleRollout> {
    return this.rollouts.rollout(principal, args);
  }
}
