import { Args, ArgsType, Field, ID, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import { IsInt, IsOptional, IsUUID, Min } from 'class-validator';
import { ConnectionType } from '../graphql/connection';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { ExemptionService } from './exemption.service';
import { PolicyService } from './policy.service';
import { CreatePolicyInput, ExemptionInput, PoliciesArgs, Policy, PolicyIdArgs, UpdatePolicyInput } from './policy.types';

const PolicyConnection = ConnectionType(Policy, 'Policy');

@ArgsType()
class VersionedPolicyArgs extends PolicyIdArgs {
  @Field(() => Int, { nullable: true, description: 'When given, the change is refused with CONFLICT if the policy moved past it.' })
  @IsOptional()
  @IsInt()
  @Min(1)
  version?: number;
}

@ArgsType()
class ExemptionRefArgs {
  @Field(() => ID)
  @IsUUID('all')
  policyId!: string;

  @Field(() => ID)
  @IsUUID('all')
  exemptionId!: string;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @IsInt()
  @Min(1)
  version?: number;
}

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
  policy(@CurrentPrincipal() principal: Principal, @Args() { id }: PolicyIdArgs) {
    return this.service.get(principal, id);
  }

  @Access('manage')
  @Mutation(() => Policy)
  createPolicy(@CurrentPrincipal() principal: Principal, @Args('input') input: CreatePolicyInput) {
    return this.service.create(principal, input);
  }

  @Access('manage')
  @Mutation(() => Policy)
  updatePolicy(@CurrentPrincipal() principal: Principal, @Args() { id }: PolicyIdArgs, @Args('input') input: UpdatePolicyInput) {
    return this.service.update(principal, id, input);
  }

  @Access('manage')
  @Mutation(() => Policy, { description: 'Deletes a policy; the two default policies cannot be deleted.' })
  deletePolicy(@CurrentPrincipal() principal: Principal, @Args() { id, version }: VersionedPolicyArgs) {
    return this.service.delete(principal, id, version);
  }

  @Access('manage')
  @Mutation(() => Policy)
  addPolicyExemption(@CurrentPrincipal() principal: Principal, @Args() { id, version }: VersionedPolicyArgs, @Args('input') input: ExemptionInput) {
    return this.exemptions.add(principal, id, version, input);
  }

  @Access('manage')
  @Mutation(() => Policy)
  removePolicyExemption(@CurrentPrincipal() principal: Principal, @Args() { policyId, exemptionId, version }: ExemptionRefArgs) {
    return this.exemptions.remove(principal, policyId, exemptionId, version);
  }
}
