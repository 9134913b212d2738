import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { EnforcementMode } from '@portcullis/db';
import { ConnectionType } from '../graphql/connection';
import { IdArg } from '../graphql/id-arg';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { ClusterService } from './cluster.service';
import { Cluster, ClustersArgs, ClusterWithToken, RegisterClusterInput } from './cluster.types';

const ClusterConnection = ConnectionType(Cluster, 'Cluster');

@Resolver(() => Cluster)
export class ClusterResolver {
  constructor(private readonly service: ClusterService) {}

  @Access('read')
  @Query(() => ClusterConnection)
  clusters(@CurrentPrincipal() principal: Principal, @Args() args: ClustersArgs) {
    return this.service.list(principal, args);
  }

  @Access('manage')
  @Mutation(() => ClusterWithToken, { description: 'Registers a cluster and returns its agent token, once.' })
  registerCluster(@CurrentPrincipal() principal: Principal, @Args('input') input: RegisterClusterInput) {
    return this.service.register(principal, input);
  }

  @Access('manage')
  @Mutation(() => ClusterWithToken, { description: 'Replaces the agent token; the old one stops working at once.' })
  rotateClusterToken(@CurrentPrincipal() principal: Principal, @IdArg() id: string) {
    return this.service.rotateToken(principal, id);
  }

  @Access('manage')
  @Mutation(() => Cluster, {
    description:
      'Switches the cluster between webhook and native enforcement; its agent gets a new bundle revision carrying the mode.',
  })
  setClusterEnforcementMode(
    @CurrentPrincipal() principal: Principal,
    @IdArg() id: string,
    // an enum argument: GraphQL itself refuses any other value
    @Args('mode', { type: () => EnforcementMode }) mode: EnforcementMode,
  ) {
    return this.service.setEnforcementMode(principal, id, mode);
  }

  @Access('manage')
  @Mutation(() => Cluster)
  deleteCluster(@CurrentPrincipal() principal: Principal, @IdArg() id: string) {
    return this.service.delete(principal, id);
  }
}
