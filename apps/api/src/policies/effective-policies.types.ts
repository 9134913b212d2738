import { ArgsType, Field, ID, ObjectType } from '@nestjs/graphql';
import { IsString, IsUUID, Matches } from 'class-validator';
import { Policy } from './policy.types';

@ArgsType()
export class EffectivePoliciesArgs {
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

  @Field({
    description: 'Human-readable reason, e.g. "cloud scope AWS_ACCOUNT 123456789012; namespace matches prod-*".',
  })
  reason!: string;

  @Field({ description: 'Whether enforcement is active (the policy has at least one enabled rule).' })
  enforced!: boolean;
}
