import { ArgsType, Field, ID, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { IsEnum, IsOptional, IsString, IsUUID, Length, Matches, MaxLength, ValidateNested } from 'class-validator';
import { ClusterDistribution, EnforcementMode } from '@portcullis/db';
import { PageArgs } from '../graphql/connection';
import { CloudScope } from '../cloud-scopes/cloud-scope.types';

registerEnumType(ClusterDistribution, { name: 'ClusterDistribution' });
registerEnumType(EnforcementMode, {
  name: 'EnforcementMode',
  description: 'Where a Block policy is enforced in the cluster.',
  valuesMap: {
    WEBHOOK: { description: "The agent's admission webhook decides every admission (the default)." },
    NATIVE: {
      description:
        'Misconfiguration policies are also compiled to ValidatingAdmissionPolicy and enforced inside kube-apiserver, ' +
        'even while the agent is down; vulnerability gating and recording stay in the webhook.',
    },
  },
});

@ObjectType({ description: 'A Kubernetes cluster whose agent enforces the policies that apply to it.' })
export class Cluster {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field(() => ClusterDistribution)
  distribution!: ClusterDistribution;

  @Field(() => String, { nullable: true })
  kubernetesVersion!: string | null;

  @Field(() => CloudScope)
  cloudScope!: CloudScope;

  @Field(() => Date, { nullable: true, description: 'Last time the agent called the API.' })
  lastSeenAt!: Date | null;

  @Field(() => String, { nullable: true })
  agentVersion!: string | null;

  @Field(() => Int, { nullable: true, description: 'Bundle revision the agent reports as applied.' })
  appliedRevision!: number | null;

  @Field(() => EnforcementMode, { description: "Where this cluster's misconfiguration policies are enforced." })
  enforcementMode!: EnforcementMode;

  @Field()
  tokenRotatedAt!: Date;

  @Field()
  createdAt!: Date;
}

@ObjectType({ description: 'A cluster with its agent credential. The token is shown once and stored only as a hash.' })
export class ClusterWithToken {
  @Field(() => Cluster)
  cluster!: Cluster;

  @Field({
    description: 'Agent credential for this cluster only; store it in the agent secret now, it cannot be shown again.',
  })
  agentToken!: string;
}

const CLUSTER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const K8S_VERSION = /^v?\d+\.\d+(\.\d+)?([-+][0-9A-Za-z.-]+)?$/;

@InputType()
export class RegisterClusterInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'cloudScopeId must be a cloud scope id' })
  cloudScopeId!: string;

  @Field({ description: 'DNS label: lowercase letters, digits and hyphens, at most 63.' })
  @IsString()
  @Matches(CLUSTER_NAME, {
    message: 'name must be a DNS label: lowercase letters, digits and hyphens, at most 63 characters',
  })
  name!: string;

  @Field(() => ClusterDistribution)
  @IsEnum(ClusterDistribution)
  distribution!: ClusterDistribution;

  @Field({ nullable: true })
  @IsOptional()
  @IsString()
  @Length(1, 32)
  @Matches(K8S_VERSION, { message: 'kubernetesVersion must look like 1.31 or v1.31.2' })
  kubernetesVersion?: string;

  @Field(() => EnforcementMode, { nullable: true, description: 'Default WEBHOOK.' })
  @IsOptional()
  @IsEnum(EnforcementMode, { message: 'enforcementMode must be WEBHOOK or NATIVE' })
  enforcementMode?: EnforcementMode;
}

@InputType()
export class ClusterFilter {
  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all')
  cloudScopeId?: string;

  @Field(() => ClusterDistribution, { nullable: true })
  @IsOptional()
  @IsEnum(ClusterDistribution)
  distribution?: ClusterDistribution;

  @Field({ nullable: true, description: 'Substring of the cluster name.' })
  @IsOptional()
  @IsString()
  @MaxLength(63)
  search?: string;
}

@ArgsType()
export class ClustersArgs extends PageArgs {
  @Field(() => ClusterFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => ClusterFilter)
  filter?: ClusterFilter;
}
