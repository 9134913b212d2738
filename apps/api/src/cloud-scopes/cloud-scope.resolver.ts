import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { ConnectionType } from '../graphql/connection';
import { IdArg } from '../graphql/id-arg';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { CloudScopeService } from './cloud-scope.service';
import { CloudScope, CloudScopesArgs, CreateCloudScopeInput, UpdateCloudScopeInput } from './cloud-scope.types';

const CloudScopeConnection = ConnectionType(CloudScope, 'CloudScope');

@Resolver(() => CloudScope)
export class CloudScopeResolver {
  constructor(private readonly scopes: CloudScopeService) {}

  @Access('read')
  @Query(() => CloudScopeConnection, { description: 'Cloud scopes the caller can read.' })
  cloudScopes(@CurrentPrincipal() principal: Principal, @Args() args: CloudScopesArgs) {
    return this.scopes.list(principal, args);
  }

  @Access('manage')
  @Mutation(() => CloudScope)
  createCloudScope(@CurrentPrincipal() principal: Principal, @Args('input') input: CreateCloudScopeInput) {
    return this.scopes.create(principal, input);
  }

  @Access('manage')
  @Mutation(() => CloudScope)
  updateCloudScope(
    @CurrentPrincipal() principal: Principal,
    @IdArg() id: string,
    @Args('input') input: UpdateCloudScopeInput,
  ) {
    return this.scopes.update(principal, id, input);
  }

  @Access('manage')
  @Mutation(() => CloudScope)
  deleteCloudScope(@CurrentPrincipal() principal: Principal, @IdArg() id: string) {
    return this.scopes.delete(principal, id);
  }
}
