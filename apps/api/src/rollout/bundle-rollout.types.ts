import { ArgsType, Field, ID, Int, ObjectType } from '@nestjs/graphql';
import { IsBoolean, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import { EnforcementMode } from '@portcullis/db';
import { Cluster } from '../clusters/cluster.types';
import { NativePolicyState } from './native-rollout.types';
import { PageInfo } from '../graphql/connection';

@ObjectType({ description: 'Where one cluster stands with its bundle.' })
export class ClusterRollout {
  @Field(() => Cluster)
  cluster!: Cluster;

  @Field(() => Int, { nullable: true, description: 'Latest revision compiled and signed for the cluster.' })
  latestRevision!: number | null;

  @Field(() => Int, { nullable: true, description: 'Revision the agent reports it enforces.' })
  appliedRevision!: number | null;

  @Field(() => Int, { description: 'Revisions the agent is behind (0 = live).' })
  lag!: number;

  @Field({ description: 'The agent enforces the latest revision.' })
  live!: boolean;

  @Field(() => Date, { nullable: true })
  lastSeenAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'Last error the agent reported.' })
  lastError!: string | null;

  @Field(() => Date, {
    nullable: true,
    description:
      'When the oldest revision the agent does not enforce yet was issued: how long the cluster has been behind (null when live).',
  })
  behindSince!: Date | null;

  @Field(() => String, { nullable: true, description: 'Agent version from its last status report.' })
  agentVersion!: string | null;

  @Field(() => Int, {
    nullable: true,
    description: "Admission events waiting in the agent's spool at its last report.",
  })
  spoolDepth!: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Admission events the agent dropped (spool full) since it started: missing from the inventory.',
  })
  droppedEvents!: number | null;

  @Field(() => Date, {
    nullable: true,
    description: "The agent's own clock at its last report (compare with lastSeenAt for skew).",
  })
  agentReportedAt!: Date | null;

  @Field(() => EnforcementMode)
  enforcementMode!: EnforcementMode;

  @Field(() => Date, {
    nullable: true,
    description:
      "When the agent last reconciled the cluster's ValidatingAdmissionPolicies with its bundle (native mode).",
  })
  nativeReconciledAt!: Date | null;

  @Field(() => Int, {
    nullable: true,
    description: "Bundle revision the cluster's ValidatingAdmissionPolicies were compiled from, as last reported.",
  })
  nativeRevision!: number | null;

  @Field(() => String, {
    nullable: true,
    description:
      "Why the agent could not read kube-apiserver's metrics at its last report (the counts then stand still).",
  })
  nativeMetricsError!: string | null;

  @Field(() => [NativePolicyState], {
    description:
      'Native mode: per misconfiguration policy of the bundle (only the policy asked, in a policy rollout), its ' +
      'ValidatingAdmissionPolicy state and the requests kube-apiserver denied or warned about. Empty in webhook mode.',
  })
  nativePolicies!: NativePolicyState[];
}

@ObjectType({ description: 'Is a change live everywhere? Per cluster: latest revision, applied revision, lag.' })
export class BundleRollout {
  @Field(() => [ClusterRollout], {
    description: 'One page of the clusters, by name (only those not live with onlyBehind).',
  })
  clusters!: ClusterRollout[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int, { description: 'Clusters the policy (or the cluster asked) covers, over all pages.' })
  total!: number;

  @Field(() => Int, { description: 'Clusters, over all pages, that enforce their latest revision.' })
  live!: number;

  @Field({ description: 'Every cluster enforces its latest revision.' })
  complete!: boolean;
}

/** A tenant may run thousands of clusters: the rollout is read a page at a time. */
export const ROLLOUT_PAGE = { default: 200, max: 1000 } as const;

@ArgsType()
export class BundleRolloutArgs {
  @Field(() => ID, {
    nullable: true,
    description: 'The clusters this policy covers. Exactly one of policyId and clusterId.',
  })
  @IsOptional()
  @IsUUID('all', { message: 'policyId must be a UUID' })
  policyId?: string;

  @Field(() => ID, { nullable: true, description: 'This one cluster.' })
  @IsOptional()
  @IsUUID('all', { message: 'clusterId must be a UUID' })
  clusterId?: string;

  @Field({
    nullable: true,
    description: 'Only clusters that do not enforce their latest revision yet (totals still count all).',
  })
  @IsOptional()
  @IsBoolean()
  onlyBehind?: boolean;

  @Field(() => Int, {
    nullable: true,
    description: `Page size, 1-${ROLLOUT_PAGE.max} (default ${ROLLOUT_PAGE.default}).`,
  })
  @IsOptional()
  @Min(1, { message: 'first must be at least 1' })
  @Max(ROLLOUT_PAGE.max, { message: `first must be at most ${ROLLOUT_PAGE.max}` })
  first?: number;

  @Field(() => String, { nullable: true, description: 'pageInfo.endCursor of the previous page.' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  after?: string;
}
