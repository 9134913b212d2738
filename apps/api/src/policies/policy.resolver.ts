import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { ConnectionType } from '../graphql/connection';
import { IdArg, VersionArg } from '../graphql/id-arg';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { ExemptionService } from './exemption.service';
import { PolicyService } from './policy.service';
import { CreatePolicyInput, ExemptionInput, PoliciesArgs, Policy, UpdatePolicyInput } from './policy.types';

const PolicyConnection = ConnectionType(Policy, 'Policy');

@Resolver(() => Policy)
export class PolicyResolver {
  constructor(
    private readonly service: PolicyService,
    private readonly exemptions: ExemptionService,
  ) {}

  @Access('read')
  @Query(() => PolicyConnection)
  policies(@CurrentPrincipal() principal: Principal, @Args() args: PoliciesArgs) {
    return this.service.list(principal, args);
  }

  @Access('read')
  @Query(() => Policy)
  policy(@CurrentPrincipal() principal: Principal, @IdArg() id: string) {
    return this.service.get(principal, id);
  }

  @Access('manage')
  @Mutation(() => Policy)
  createPolicy(@CurrentPrincipal() principal: Principal, @Args('input') input: CreatePolicyInput) {
    return this.service.create(principal, input);
  }

  @Access('manage')
  @Mutation(() => Policy)
  updatePolicy(@CurrentPrincipal() principal: Principal, @IdArg() id: string, @Args('input') input: UpdatePolicyInput) {
    return this.service.update(principal, id, input);
  }

  @Access('manage')
  @Mutation(() => Policy, { description: 'Deletes a policy; the two default policies cannot be deleted.' })
  deletePolicy(
    @CurrentPrincipal() principal: Principal,
    @IdArg() id: string,
    @VersionArg() version: number | undefined,
  ) {
    return this.service.delete(principal, id, version);
  }

  @Access('manage')
  @Mutation(() => Policy)
  addPolicyExemption(
    @CurrentPrincipal() principal: Principal,
    @IdArg() id: string,
    @VersionArg() version: number | undefined,
    @Args('input') input: ExemptionInput,
  ) {
    return this.exemptions.add(principal, id, version, input);
  }

  @Access('manage')
  @Mutation(() => Policy)
  removePolicyExemption(
    @CurrentPrincipal() principal: Principal,
    @IdArg('policyId') policyId: string,
    @IdArg('exemptionId') exemptionId: string,
    @VersionArg() version: number | undefined,
  ) {
    return this.exemptions.remove(principal, policyId, exemptionId, version);
  }
}
