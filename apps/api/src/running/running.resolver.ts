import { Args, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { RunningWorkloadsService } from './running-workloads.service';
import { RunningPostureSummary, RunningWorkloadConnection, RunningWorkloadsArgs } from './running.types';

/** What runs now and what it violates (the background audit), limited to the cloud scopes the caller reads. */
@Resolver(() => RunningWorkloadConnection)
export class RunningWorkloadsResolver {
  constructor(private readonly running: RunningWorkloadsService) {}

  @Access('read')
  @Query(() => RunningWorkloadConnection, {
    description:
      'Workloads running now, as each cluster’s agent last reported them (background audit), with the rules they violate; ordered by cluster, namespace, kind, name.',
  })
  runningWorkloads(@CurrentPrincipal() principal: Principal, @Args() args: RunningWorkloadsArgs) {
    return this.running.list(principal, args);
  }

  @ResolveField(() => RunningPostureSummary, {
    description: 'The posture of every workload matching the filter (not only this page).',
  })
  summary(@CurrentPrincipal() principal: Principal, @Parent() connection: RunningWorkloadConnection) {
    return this.running.summary(principal, connection.query.filter);
  }
}
