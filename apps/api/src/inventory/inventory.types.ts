import { ArgsType, Field, ID, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDate,
  IsEnum,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { ConnectionType, PageArgs } from '../graphql/connection';
import { PolicyAction, PolicyType } from '@portcullis/db';
import { PolicyRuleInput, PolicyScopeInput } from '../policies/policy.types';
import '../rule-catalog/rule-catalog.types'; // registers PolicyType / PolicyAction
import { RunningWouldDeny, WorkloadSource } from '../running/running.types';

export enum AdmissionDecision {
  ALLOWED = 'ALLOWED',
  AUDITED = 'AUDITED',
  DENIED = 'DENIED',
  EXEMPTED = 'EXEMPTED',
}
registerEnumType(AdmissionDecision, {
  name: 'AdmissionDecision',
  description:
    'ALLOWED: nothing applied; AUDITED: allowed with Audit violations; DENIED: a Block violation; EXEMPTED: every violation exempted.',
});

export enum AdmissionDimension {
  CLOUD_SCOPE = 'CLOUD_SCOPE',
  CLUSTER = 'CLUSTER',
  NAMESPACE = 'NAMESPACE',
  POLICY = 'POLICY',
  RULE = 'RULE',
  DECISION = 'DECISION',
  HOUR = 'HOUR',
  DAY = 'DAY',
}
registerEnumType(AdmissionDimension, { name: 'AdmissionDimension' });

/** Kubernetes owner reference as `Kind/name`, e.g. `Deployment/web`. */
const WORKLOAD = /^[A-Za-z][A-Za-z0-9]{0,62}\/[^/\s]{1,253}$/;

@InputType()
export class AdmissionEventFilter {
  @Field({ nullable: true, description: 'Inclusive; default 7 days before `to`.' })
  @IsOptional()
  @IsDate()
  from?: Date;

  @Field({ nullable: true, description: 'Exclusive; default now.' })
  @IsOptional()
  @IsDate()
  to?: Date;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all')
  cloudScopeId?: string;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all')
  clusterId?: string;

  @Field({ nullable: true, description: '"" for cluster-scoped objects.' })
  @IsOptional()
  @IsString()
  @MaxLength(63)
  namespace?: string;

  @Field({ nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  policyId?: string;

  @Field({ nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  ruleId?: string;

  @Field(() => AdmissionDecision, { nullable: true })
  @IsOptional()
  @IsEnum(AdmissionDecision)
  decision?: AdmissionDecision;

  @Field({ nullable: true, description: 'An image exactly as written in the object.' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  image?: string;

  @Field({ nullable: true, description: 'The owning workload as Kind/name, e.g. Deployment/web.' })
  @IsOptional()
  @Matches(WORKLOAD, { message: 'workload must be Kind/name, e.g. Deployment/web' })
  workload?: string;
}

@ArgsType()
export class AdmissionEventsArgs extends PageArgs {
  @Field(() => AdmissionEventFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => AdmissionEventFilter)
  filter?: AdmissionEventFilter;
}

@ObjectType()
export class WorkloadRef {
  @Field()
  kind!: string;

  @Field()
  name!: string;
}

@ObjectType()
export class AdmissionFinding {
  @Field()
  policyId!: string;

  @Field()
  policyName!: string;

  @Field(() => PolicyAction)
  action!: PolicyAction;

  @Field()
  ruleId!: string;

  @Field(() => String, { nullable: true })
  container?: string | null;

  @Field()
  path!: string;

  @Field()
  message!: string;

  @Field()
  exempted!: boolean;

  @Field(() => String, { nullable: true })
  exemptionId?: string | null;

  @Field(() => String, { nullable: true })
  reason?: string | null;

  @Field(() => String, { nullable: true })
  image?: string | null;
}

@ObjectType({ description: 'One admission decision an agent reported.' })
export class AdmissionEventNode {
  @Field(() => ID)
  eventId!: string;

  @Field()
  occurredAt!: Date;

  @Field()
  receivedAt!: Date;

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
  operation!: string;

  @Field()
  dryRun!: boolean;

  @Field(() => AdmissionDecision)
  decision!: AdmissionDecision;

  @Field(() => Int, { nullable: true })
  bundleRevision!: number | null;

  @Field(() => WorkloadRef)
  owner!: WorkloadRef;

  @Field()
  username!: string;

  @Field(() => [String])
  images!: string[];

  @Field(() => [AdmissionFinding])
  findings!: AdmissionFinding[];

  @Field({ description: 'Whether the evaluated object was recorded (simulation can use it).' })
  hasSnapshot!: boolean;
}

export const AdmissionEventConnection = ConnectionType(AdmissionEventNode, 'AdmissionEvent');

@InputType()
export class TimeWindowInput {
  @Field({ description: 'Inclusive, rounded down to the hour.' })
  @IsDate()
  from!: Date;

  @Field({ description: 'Exclusive, rounded up to the hour.' })
  @IsDate()
  to!: Date;
}

@ArgsType()
export class AdmissionSummaryArgs {
  @Field(() => [AdmissionDimension], {
    description: 'With RULE the counts are per rule, with POLICY (no RULE) per policy, otherwise per admission.',
  })
  @IsArray()
  @ArrayMaxSize(8)
  @IsEnum(AdmissionDimension, { each: true })
  groupBy!: AdmissionDimension[];

  @Field(() => TimeWindowInput, { nullable: true, description: 'Default: the last 24 hours.' })
  @IsOptional()
  @ValidateNested()
  @Type(() => TimeWindowInput)
  window?: TimeWindowInput;
}

@ObjectType()
export class AdmissionGroup {
  @Field(() => ID, { nullable: true })
  cloudScopeId?: string | null;

  @Field(() => ID, { nullable: true })
  clusterId?: string | null;

  @Field(() => String, { nullable: true })
  namespace?: string | null;

  @Field(() => String, { nullable: true })
  policyId?: string | null;

  @Field(() => String, { nullable: true })
  ruleId?: string | null;

  @Field(() => AdmissionDecision, {
    nullable: true,
    description: 'On policy and rule groups: the outcome of that policy or rule.',
  })
  decision?: AdmissionDecision | null;

  @Field(() => Date, { nullable: true, description: 'Start of the hour or day.' })
  period?: Date | null;

  @Field(() => Int)
  admissions!: number;
}

@ObjectType()
export class TimeWindow {
  @Field()
  from!: Date;

  @Field()
  to!: Date;
}

@ObjectType()
export class AdmissionSummary {
  @Field(() => TimeWindow)
  window!: TimeWindow;

  @Field(() => [AdmissionDimension])
  groupBy!: AdmissionDimension[];

  @Field(() => [AdmissionGroup], { description: 'Largest first, at most 1,000.' })
  groups!: AdmissionGroup[];

  @Field(() => Int)
  totalAdmissions!: number;
}

@ArgsType()
export class ReportWindowArgs {
  @Field(() => Int, { defaultValue: 30, description: 'Whole UTC days up to and including today, 1-90.' })
  @IsInt()
  @Min(1)
  @Max(90)
  days!: number;

  @Field(() => Int, {
    defaultValue: 7,
    description: 'Ready to Block when nothing would have been denied for this many days (at most `days`).',
  })
  @IsInt()
  @Min(1)
  @Max(90)
  readyAfterDays!: number;

  @Field(() => Int, { defaultValue: 100, description: 'How many workloads byWorkload lists (largest first), 1-2,000.' })
  @IsInt()
  @Min(1)
  @Max(2000)
  workloadLimit!: number;
}

@ArgsType()
export class AuditToDenyArgs extends ReportWindowArgs {
  @Field(() => ID, { description: 'The policy (usually in Audit mode) to report on.' })
  @IsUUID('all', { message: 'policyId must be a policy id' })
  policyId!: string;
}

@ObjectType()
export class BreakdownEntry {
  @Field({ description: 'The rule id, namespace or cluster id.' })
  key!: string;

  @Field(() => Int)
  admissions!: number;

  @Field(() => Int)
  workloads!: number;
}

@ObjectType()
export class DailyCount {
  @Field()
  day!: Date;

  @Field(() => Int)
  admissions!: number;

  @Field(() => Int)
  workloads!: number;
}

@ObjectType()
export class WorkloadViolations {
  @Field(() => WorkloadSource, { description: 'Always ADMISSION: byWorkload counts admissions.' })
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
  admissions!: number;

  @Field({ description: 'When this workload last had an admission Block would have denied.' })
  lastViolationAt!: Date;

  @Field(() => [String])
  rules!: string[];
}

@ObjectType()
export class SuggestedExemption {
  @Field()
  namespace!: string;

  @Field()
  kind!: string;

  @Field()
  name!: string;

  @Field(() => WorkloadSource, { description: 'Always ADMISSION: running violators are in runningWouldDeny.' })
  source!: WorkloadSource;

  @Field(() => Int, { description: 'Would-be denials of this workload in the readiness period.' })
  admissions!: number;
}

@ObjectType()
export class Readiness {
  @Field({
    description:
      'No admission would have been denied in the last readyAfterDays days, and no workload running now would be denied (background audit).',
  })
  ready!: boolean;

  @Field(() => Int)
  readyAfterDays!: number;

  @Field(() => Date, { nullable: true })
  lastWouldDenyAt!: Date | null;

  @Field(() => [SuggestedExemption], {
    description: 'Exempting these workloads makes the policy ready (at most 50 listed).',
  })
  suggestedExemptions!: SuggestedExemption[];

  @Field(() => Int)
  exemptionsNeeded!: number;

  @Field(() => Int, { description: 'Workloads running now that Block would deny: each keeps the policy not ready.' })
  runningWouldDeny!: number;

  @Field(() => [String], {
    description: 'Why the policy is not ready, one line per cause, naming running violators (empty when ready).',
  })
  reasons!: string[];
}

@ObjectType({
  description: 'What Block mode would have denied over the window, per workload (owner), not per pod replica.',
})
export class AuditToDenyReport {
  @Field(() => ID, { nullable: true })
  policyId!: string | null;

  @Field()
  policyName!: string;

  @Field(() => PolicyAction)
  action!: PolicyAction;

  @Field(() => TimeWindow)
  window!: TimeWindow;

  @Field(() => Int)
  wouldDenyAdmissions!: number;

  @Field(() => Int)
  wouldDenyWorkloads!: number;

  @Field(() => [BreakdownEntry])
  byRule!: BreakdownEntry[];

  @Field(() => [BreakdownEntry])
  byNamespace!: BreakdownEntry[];

  @Field(() => [BreakdownEntry])
  byCluster!: BreakdownEntry[];

  @Field(() => [WorkloadViolations])
  byWorkload!: WorkloadViolations[];

  @Field(() => [DailyCount], { description: 'Every day of the window, oldest first, zeros included.' })
  dailyTrend!: DailyCount[];

  @Field(() => Int, {
    description:
      'Workloads running now (background audit) with a violation of the policy no exemption covers: Block would deny them if admitted now. Not in the admission counts above.',
  })
  runningWouldDenyWorkloads!: number;

  @Field(() => Int, { description: 'Their running pods.' })
  runningWouldDenyPods!: number;

  @Field(() => [RunningWouldDeny], {
    description: 'Those running workloads (source RUNNING), most pods first, at most workloadLimit.',
  })
  runningWouldDeny!: RunningWouldDeny[];

  @Field(() => Readiness)
  readiness!: Readiness;
}

@InputType({
  description:
    'A policy as it might be: based on an existing policy (its rules, scope and exemptions) with changes, or new.',
})
export class PolicyDraftInput {
  @Field(() => ID, {
    nullable: true,
    description: 'The policy this draft changes; flips are counted against its recorded outcome.',
  })
  @IsOptional()
  @IsUUID('all')
  policyId?: string;

  @Field(() => PolicyType, {
    nullable: true,
    description: 'Required without policyId; only MISCONFIGURATION can be simulated.',
  })
  @IsOptional()
  @IsEnum(PolicyType)
  type?: PolicyType;

  @Field(() => PolicyAction, { nullable: true })
  @IsOptional()
  @IsEnum(PolicyAction)
  action?: PolicyAction;

  @Field(() => PolicyScopeInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => PolicyScopeInput)
  scope?: PolicyScopeInput;

  @Field(() => [String], { defaultValue: [] })
  @IsArray()
  @ArrayMaxSize(5)
  @IsString({ each: true })
  presets!: string[];

  @Field(() => [PolicyRuleInput], {
    defaultValue: [],
    description: 'Changes on top of the base policy (or of an empty policy).',
  })
  @IsArray()
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => PolicyRuleInput)
  rules!: PolicyRuleInput[];
}

export enum VerdictChange {
  ALLOW_TO_DENY = 'ALLOW_TO_DENY',
  DENY_TO_ALLOW = 'DENY_TO_ALLOW',
}
registerEnumType(VerdictChange, { name: 'VerdictChange' });

@ObjectType()
export class WorkloadFlip {
  @Field(() => ID)
  clusterId!: string;

  @Field()
  namespace!: string;

  @Field()
  kind!: string;

  @Field()
  name!: string;

  @Field(() => VerdictChange)
  change!: VerdictChange;

  @Field(() => WorkloadSource, { description: 'ADMISSION: recorded admissions; RUNNING: a workload running now.' })
  source!: WorkloadSource;
}

@ObjectType({ description: 'The draft evaluated on the snapshots of the workloads running now (background audit).' })
export class RunningSimulation {
  @Field(() => Int, { description: 'Running workloads in the caller’s scopes and the draft’s cluster scope.' })
  workloads!: number;

  @Field(() => Int, { description: 'Of those, evaluated (their snapshot is stored).' })
  evaluated!: number;

  @Field(() => Int, { description: 'Of those, without a stored snapshot: not simulated.' })
  withoutSnapshot!: number;

  @Field(() => Int)
  wouldDenyWorkloads!: number;

  @Field(() => Int)
  wouldDenyPods!: number;

  @Field(() => [WorkloadFlip], {
    description:
      'Running workloads whose verdict differs from the agent’s current evaluation of the base policy (at most 500 listed; only with draft.policyId).',
  })
  flips!: WorkloadFlip[];

  @Field(() => Int)
  flipCount!: number;
}

@ObjectType()
export class PolicySimulation {
  @Field(() => AuditToDenyReport, { description: 'The draft evaluated on the recorded snapshots: what it would deny.' })
  report!: AuditToDenyReport;

  @Field(() => [WorkloadFlip], {
    description: 'Workloads whose verdict differs from the current policy (at most 500 listed).',
  })
  flips!: WorkloadFlip[];

  @Field(() => Int)
  flipCount!: number;

  @Field(() => Int)
  snapshotsEvaluated!: number;

  @Field(() => Int, { description: 'Admissions in the window with no recorded snapshot: not simulated.' })
  admissionsWithoutSnapshot!: number;

  @Field(() => RunningSimulation, {
    nullable: true,
    description:
      'With includeRunning: the draft on the workloads running now, apart from the admissions (report.runningWouldDeny lists the ones it would deny, and readiness counts them). null otherwise.',
  })
  running!: RunningSimulation | null;
}

@ArgsType()
export class SimulatePolicyArgs extends ReportWindowArgs {
  @Field(() => PolicyDraftInput)
  @ValidateNested()
  @Type(() => PolicyDraftInput)
  draft!: PolicyDraftInput;

  @Field({
    defaultValue: false,
    description: 'Also evaluate the snapshots of the workloads running now (background audit), reported apart.',
  })
  @IsBoolean()
  includeRunning!: boolean;
}
