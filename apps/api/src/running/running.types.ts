import { ArgsType, Field, ID, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { IsBoolean, IsEnum, IsOptional, IsString, IsUUID, Matches, MaxLength, ValidateNested } from 'class-validator';
import { PolicyAction } from '@portcullis/db';
import { PageArgs, PageInfo } from '../graphql/connection';
import '../rule-catalog/rule-catalog.types'; // registers PolicyAction

/** Where a workload in a report comes from: recorded admissions, or what runs now (the background audit). */
export enum WorkloadSource {
  ADMISSION = 'ADMISSION',
  RUNNING = 'RUNNING',
}
registerEnumType(WorkloadSource, {
  name: 'WorkloadSource',
  description:
    'ADMISSION: from admission requests the agent reviewed; RUNNING: a workload running now, from the background audit.',
});

/** A namespace, or a pattern with * and ? wildcards (as policy scopes write them). */
const NAMESPACE_FILTER = /^[a-z0-9*?]([a-z0-9*?.-]{0,252})?$|^$/;

@InputType()
export class RunningWorkloadFilter {
  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all')
  cloudScopeId?: string;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all')
  clusterId?: string;

  @Field({
    nullable: true,
    description: 'A namespace, or a pattern with * and ? wildcards (e.g. team-*); "" for cluster-scoped objects.',
  })
  @IsOptional()
  @Matches(NAMESPACE_FILTER, {
    message: 'namespace must be a namespace or a pattern (lowercase letters, digits, "-", ".", and * or ? wildcards)',
  })
  namespace?: string;

  @Field({
    nullable: true,
    description: 'The workload kind: Deployment, StatefulSet, DaemonSet, Job, CronJob, Pod, ...',
  })
  @IsOptional()
  @IsString()
  @MaxLength(63)
  kind?: string;

  @Field({ nullable: true, description: 'The workload name, exactly.' })
  @IsOptional()
  @IsString()
  @MaxLength(253)
  name?: string;

  @Field(() => ID, { nullable: true, description: 'Workloads with a violation of this policy.' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  policyId?: string;

  @Field({ nullable: true, description: 'Workloads with a violation of this rule.' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  rule?: string;

  @Field(() => PolicyAction, {
    nullable: true,
    description: 'Workloads with a violation of this action (BLOCK: would be denied if admitted now).',
  })
  @IsOptional()
  @IsEnum(PolicyAction)
  action?: PolicyAction;

  @Field({
    nullable: true,
    description: 'Only workloads with a violation no exemption covers (matching policyId, rule and action if given).',
  })
  @IsOptional()
  @IsBoolean()
  onlyViolating?: boolean;
}

@ArgsType()
export class RunningWorkloadsArgs extends PageArgs {
  @Field(() => RunningWorkloadFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => RunningWorkloadFilter)
  filter?: RunningWorkloadFilter;
}

@ObjectType({ description: 'A policy as the caller may see it.' })
export class RunningPolicyRef {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field(() => PolicyAction, {
    description: 'The policy’s action now (the violation carries the one it was evaluated with).',
  })
  action!: PolicyAction;
}

@ObjectType({ description: 'A rule a running workload violates now.' })
export class RunningViolationNode {
  @Field(() => RunningPolicyRef, {
    nullable: true,
    description: 'null when the policy was deleted since, or is not visible to the caller.',
  })
  policy!: RunningPolicyRef | null;

  @Field()
  rule!: string;

  @Field(() => PolicyAction, { description: 'The action of the policy in the bundle revision it was evaluated with.' })
  action!: PolicyAction;

  @Field()
  message!: string;

  @Field(() => String, { nullable: true })
  path!: string | null;

  @Field(() => String, { nullable: true })
  container!: string | null;

  @Field(() => String, { nullable: true, description: 'The image the violation is about (vulnerability rules).' })
  image!: string | null;

  @Field()
  exempted!: boolean;

  @Field({
    description:
      'Since when this policy + rule + container has been reported for the workload (kept while it keeps violating).',
  })
  since!: Date;
}

@ObjectType({
  description: 'A workload running now (its top-most controller), as its cluster’s agent last reported it.',
})
export class RunningWorkloadNode {
  @Field(() => WorkloadSource)
  source!: WorkloadSource;

  @Field(() => ID)
  clusterId!: string;

  @Field(() => ID)
  cloudScopeId!: string;

  @Field(() => String, { nullable: true, description: 'null for cluster-scoped objects.' })
  namespace!: string | null;

  @Field()
  kind!: string;

  @Field()
  apiVersion!: string;

  @Field()
  name!: string;

  @Field()
  uid!: string;

  @Field(() => Int, { description: 'Running pods it owns (1 for a bare pod, 0 for an Ingress).' })
  pods!: number;

  @Field(() => [String])
  images!: string[];

  @Field(() => Int, {
    nullable: true,
    description: 'The bundle revision the cluster’s running workloads are evaluated with now (null: no valid bundle).',
  })
  evaluatedRevision!: number | null;

  @Field({ description: 'Some violation no exemption covers is of a Block policy: admitted now, it would be denied.' })
  wouldDeny!: boolean;

  @Field({ description: 'First reported running (with this uid).' })
  firstSeenAt!: Date;

  @Field({ description: 'When its state last changed in a report.' })
  updatedAt!: Date;

  @Field(() => [RunningViolationNode])
  violations!: RunningViolationNode[];
}

@ObjectType()
export class RunningWorkloadEdge {
  @Field()
  cursor!: string;

  @Field(() => RunningWorkloadNode)
  node!: RunningWorkloadNode;
}

@ObjectType({ description: 'Workloads (or pods) counted per policy or rule; violations no exemption covers.' })
export class RunningPostureCount {
  @Field(() => RunningPolicyRef)
  policy!: RunningPolicyRef;

  @Field(() => String, { nullable: true, description: 'null on a per-policy count.' })
  rule!: string | null;

  @Field(() => Int)
  workloads!: number;

  @Field(() => Int)
  pods!: number;

  @Field(() => Int, { description: 'Workloads violating it in Block mode: they would be denied if admitted now.' })
  blockWorkloads!: number;

  @Field(() => Int, { description: 'Workloads violating it in Audit mode only.' })
  auditWorkloads!: number;
}

@ObjectType({ description: 'The background audit of one cluster.' })
export class RunningClusterReport {
  @Field(() => ID)
  clusterId!: string;

  @Field({ description: 'When the agent last reported (any report, heartbeats included).' })
  lastReportAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When the last complete FULL sync was applied.' })
  lastFullSyncAt!: Date | null;

  @Field(() => Int, { nullable: true, description: 'The bundle revision its running workloads are evaluated with.' })
  evaluatedRevision!: number | null;

  @Field({ description: 'A FULL sync is staged and not complete yet (its pages are not applied).' })
  syncInProgress!: boolean;
}

@ObjectType({ description: 'Posture of the workloads matching the filter (all pages).' })
export class RunningPostureSummary {
  @Field(() => Int)
  workloads!: number;

  @Field(() => Int)
  pods!: number;

  @Field(() => Int, { description: 'Workloads with a violation no exemption covers.' })
  violatingWorkloads!: number;

  @Field(() => Int, { description: 'Workloads a Block policy would deny if admitted now.' })
  wouldDenyWorkloads!: number;

  @Field(() => Int)
  wouldDenyPods!: number;

  @Field(() => [RunningPostureCount], { description: 'Per policy, most workloads first.' })
  byPolicy!: RunningPostureCount[];

  @Field(() => [RunningPostureCount], { description: 'Per policy and rule, most workloads first.' })
  byRule!: RunningPostureCount[];

  @Field(() => [RunningClusterReport], { description: 'The clusters whose agents report (in the filter’s scope).' })
  clusters!: RunningClusterReport[];
}

/** What the summary resolver needs of the query that produced the page; not a GraphQL field. */
export interface RunningQueryContext {
  readonly tenantId: string;
  readonly filter: RunningWorkloadFilter;
}

@ObjectType()
export class RunningWorkloadConnection {
  @Field(() => [RunningWorkloadEdge])
  edges!: RunningWorkloadEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int, { description: 'Items matching the filter, over all pages.' })
  totalCount!: number;

  /** Resolved by RunningWorkloadConnectionResolver.summary (only when asked for). */
  query!: RunningQueryContext;
}

@ObjectType({ description: 'A running workload a policy would deny if it were admitted now.' })
export class RunningWouldDeny {
  @Field(() => WorkloadSource)
  source!: WorkloadSource;

  @Field(() => ID)
  clusterId!: string;

  @Field({ description: '"" for cluster-scoped objects.' })
  namespace!: string;

  @Field()
  kind!: string;

  @Field()
  name!: string;

  @Field(() => Int)
  pods!: number;

  @Field(() => [String], { description: 'The rules it violates (no exemption covering them).' })
  rules!: string[];

  @Field(() => Date, { nullable: true, description: 'Since when it has violated them (null in a simulation).' })
  since!: Date | null;

  @Field(() => Int, { nullable: true })
  evaluatedRevision!: number | null;
}
