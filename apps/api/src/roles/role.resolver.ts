import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { ConnectionType } from '../graphql/connection';
import { IdArg } from '../graphql/id-arg';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { RoleService } from './role.service';
import { AssignRoleInput, RoleAssignment, RoleAssignmentsArgs } from './role.types';

const RoleAssignmentConnection = ConnectionType(RoleAssignment, 'RoleAssignment');

@Resolver(() => RoleAssignment)
export class RoleResolver {
  constructor(private readonly roles: RoleService) {}

  @Access('read')
  @Query(() => RoleAssignmentConnection)
  roleAssignments(@CurrentPrincipal() principal: Principal, @Args() args: RoleAssignmentsArgs) {
    return this.roles.list(principal, args);
  }

  @Access('administer')
  @Mutation(() => RoleAssignment)
  assignRole(@CurrentPrincipal() principal: Principal, @Args('input') input: AssignRoleInput) {
    return this.roles.assign(principal, input);
  }

  @Access('administer')
  @Mutation(() => RoleAssignment, {
    description: 'Removes a role assignment; the last tenant-level OWNER cannot be removed.',
  })
  revokeRole(@CurrentPrincipal() principal: Principal, @IdArg() id: string) {
    return this.roles.revoke(principal, id);
  }
}
