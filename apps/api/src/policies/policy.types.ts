import { ArgsType, Field, ID, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDate,
  IsEnum,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  MaxLength,
  Min,
  ValidateNested,
  registerDecorator,
} from 'class-validator';
import { PolicyAction, PolicyType } from '@portcullis/db';
import {
  MAX_NAMESPACE_PATTERN_LENGTH,
  MAX_PATTERNS_PER_LIST,
  MAX_PATTERN_LENGTH,
  policyNameProblem,
  storedPolicyName,
} from '@portcullis/policy-engine';
import { CloudScope } from '../cloud-scopes/cloud-scope.types';
import { Cluster } from '../clusters/cluster.types';
import { PageArgs } from '../graphql/connection';
import { GraphQLJSON } from '../graphql/json.scalar';
import '../rule-catalog/rule-catalog.types'; // registers PolicyType / PolicyAction

export enum MatchMode {
  EQUALS = 'EQUALS',
  PREFIX = 'PREFIX',
  SUFFIX = 'SUFFIX',
  CONTAINS = 'CONTAINS',
  GLOB = 'GLOB',
}
registerEnumType(MatchMode, {
  name: 'MatchMode',
  description: 'How an exemption matches names, namespaces and images.',
});

@ObjectType()
export class NamespaceScope {
  @Field(() => [String], { description: 'Glob patterns; empty = every namespace.' })
  include!: string[];

  @Field(() => [String])
  exclude!: string[];
}

@ObjectType({
  description:
    'Where a policy applies: cloud scopes (empty = all), clusters (empty = all in those scopes), namespaces.',
})
export class PolicyScope {
  @Field(() => [CloudScope])
  cloudScopes!: CloudScope[];

  @Field(() => [Cluster])
  clusters!: Cluster[];

  @Field(() => Int, { description: 'Cloud scopes of the policy you cannot read: counted, not listed in cloudScopes.' })
  hiddenCloudScopes!: number;

  @Field(() => Int, {
    description: 'Clusters of the policy in cloud scopes you cannot read: counted, not listed in clusters.',
  })
  hiddenClusters!: number;

  @Field(() => NamespaceScope)
  namespaces!: NamespaceScope;
}

@ObjectType()
export class PolicyRule {
  @Field()
  ruleId!: string;

  @Field()
  enabled!: boolean;

  @Field(() => GraphQLJSON, { description: 'Parameters, defaults filled in.' })
  params!: Record<string, unknown>;
}

@ObjectType({ description: 'Part of a policy: what it exempts, why, who granted it, until when.' })
export class PolicyExemption {
  @Field(() => ID)
  id!: string;

  @Field(() => [String])
  namespaces!: string[];

  @Field(() => [String], { description: 'Workload kinds, e.g. Deployment.' })
  kinds!: string[];

  @Field(() => [String], { description: 'Workload names.' })
  names!: string[];

  @Field(() => [String], { description: 'Images by registry, repository or digest.' })
  images!: string[];

  @Field(() => GraphQLJSON, { nullable: true, description: 'matchLabels the object must carry.' })
  labelSelector!: Record<string, string> | null;

  @Field(() => [String], { description: 'CVE ids (vulnerability policies).' })
  cves!: string[];

  @Field(() => [String], { description: 'Rule ids it is limited to; empty = every rule of the policy.' })
  rules!: string[];

  @Field(() => MatchMode)
  match!: MatchMode;

  @Field()
  reason!: string;

  @Field()
  grantedBy!: string;

  @Field(() => Date, { nullable: true })
  expiresAt!: Date | null;

  @Field({ description: 'False once expiresAt has passed: an expired exemption stops applying by itself.' })
  active!: boolean;

  @Field()
  createdAt!: Date;
}

@ObjectType()
export class Policy {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field()
  description!: string;

  @Field(() => PolicyType)
  type!: PolicyType;

  @Field(() => PolicyAction)
  action!: PolicyAction;

  @Field({ description: 'One of the two policies every tenant has; cannot be renamed, rescoped or deleted.' })
  isDefault!: boolean;

  @Field(() => Int, { description: 'Incremented by every change; updates name the version they edit.' })
  version!: number;

  @Field(() => PolicyScope)
  scope!: PolicyScope;

  @Field(() => [PolicyRule], { description: 'Every catalog rule of the policy type, enabled or not.' })
  rules!: PolicyRule[];

  @Field(() => [PolicyExemption])
  exemptions!: PolicyExemption[];

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;

  @Field()
  createdBy!: string;

  @Field()
  updatedBy!: string;
}

const PATTERN_LIMIT = MAX_PATTERNS_PER_LIST;
/** Shared with the policy-file import (PolicyWriter), so a file cannot store what the API refuses. */
export const POLICY_DESCRIPTION_MAX = 2000;
// every pattern is matched against each admission (and each simulated snapshot): bounded where it enters
const namespacePatternLength = {
  each: true,
  message: `each pattern is at most ${MAX_NAMESPACE_PATTERN_LENGTH} characters`,
} as const;
const patternLength = { each: true, message: `each pattern is at most ${MAX_PATTERN_LENGTH} characters` } as const;

/** The policy-file reader's name rule (one function), on the name as it is stored. */
function IsPolicyName(): PropertyDecorator {
  const problem = (v: unknown) => policyNameProblem(typeof v === 'string' ? storedPolicyName(v) : v);
  return (target, propertyName) =>
    registerDecorator({
      name: 'isPolicyName',
      target: target.constructor,
      propertyName: String(propertyName),
      validator: {
        validate: (v: unknown) => problem(v) === undefined,
        defaultMessage: (args) => problem(args?.value) ?? 'is not a policy name',
      },
    });
}

@InputType()
export class NamespaceScopeInput {
  @Field(() => [String], { defaultValue: [] })
  @IsArray()
  @ArrayMaxSize(PATTERN_LIMIT)
  @IsString({ each: true })
  @MaxLength(MAX_NAMESPACE_PATTERN_LENGTH, namespacePatternLength)
  include!: string[];

  @Field(() => [String], { defaultValue: [] })
  @IsArray()
  @ArrayMaxSize(PATTERN_LIMIT)
  @IsString({ each: true })
  @MaxLength(MAX_NAMESPACE_PATTERN_LENGTH, namespacePatternLength)
  exclude!: string[];
}

@InputType()
export class PolicyScopeInput {
  @Field(() => [ID], { defaultValue: [] })
  @IsArray()
  @ArrayMaxSize(500)
  @IsUUID('all', { each: true })
  cloudScopeIds!: string[];

  @Field(() => [ID], { defaultValue: [] })
  @IsArray()
  @ArrayMaxSize(5000)
  @IsUUID('all', { each: true })
  clusterIds!: string[];

  @Field(() => NamespaceScopeInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => NamespaceScopeInput)
  namespaces?: NamespaceScopeInput;
}

@InputType()
export class PolicyRuleInput {
  @Field()
  @IsString()
  @Length(1, 100)
  ruleId!: string;

  @Field({ defaultValue: true })
  @IsBoolean()
  enabled!: boolean;

  @Field(() => GraphQLJSON, { nullable: true, description: 'Parameters; omitted ones take their defaults.' })
  @IsOptional()
  @IsObject()
  params?: Record<string, unknown>;
}

@InputType()
export class CreatePolicyInput {
  @Field()
  @IsPolicyName()
  name!: string;

  @Field({ defaultValue: '' })
  @IsString()
  @MaxLength(POLICY_DESCRIPTION_MAX)
  description!: string;

  @Field(() => PolicyType)
  @IsEnum(PolicyType)
  type!: PolicyType;

  @Field(() => PolicyAction)
  @IsEnum(PolicyAction)
  action!: PolicyAction;

  @Field(() => PolicyScopeInput, { nullable: true, description: 'Omitted: the whole tenant.' })
  @IsOptional()
  @ValidateNested()
  @Type(() => PolicyScopeInput)
  scope?: PolicyScopeInput;

  @Field(() => [String], {
    defaultValue: [],
    description: 'Presets to start from, e.g. pss-restricted; rules below override them.',
  })
  @IsArray()
  @ArrayMaxSize(5)
  @IsString({ each: true })
  presets!: string[];

  @Field(() => [PolicyRuleInput], {
    defaultValue: [],
    description: 'Rules to enable; catalog rules not listed are disabled.',
  })
  @IsArray()
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => PolicyRuleInput)
  rules!: PolicyRuleInput[];
}

@InputType()
export class UpdatePolicyInput {
  @Field(() => Int, { description: 'The version being edited; a newer stored version answers CONFLICT.' })
  @IsInt()
  @Min(1)
  version!: number;

  @Field({ nullable: true })
  @IsOptional()
  @IsPolicyName()
  name?: string;

  @Field({ nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(POLICY_DESCRIPTION_MAX)
  description?: string;

  @Field(() => PolicyAction, { nullable: true })
  @IsOptional()
  @IsEnum(PolicyAction)
  action?: PolicyAction;

  @Field(() => PolicyScopeInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => PolicyScopeInput)
  scope?: PolicyScopeInput;

  @Field(() => [PolicyRuleInput], {
    nullable: true,
    description: 'Rules to change; rules not listed keep their state.',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => PolicyRuleInput)
  rules?: PolicyRuleInput[];
}

@InputType()
export class ExemptionInput {
  @Field(() => [String], { defaultValue: [] })
  @IsArray()
  @ArrayMaxSize(PATTERN_LIMIT)
  @IsString({ each: true })
  @MaxLength(MAX_NAMESPACE_PATTERN_LENGTH, namespacePatternLength)
  namespaces!: string[];

  @Field(() => [String], { defaultValue: [] })
  @IsArray()
  @ArrayMaxSize(20)
  @IsString({ each: true })
  kinds!: string[];

  @Field(() => [String], { defaultValue: [] })
  @IsArray()
  @ArrayMaxSize(PATTERN_LIMIT)
  @IsString({ each: true })
  @MaxLength(MAX_PATTERN_LENGTH, patternLength)
  names!: string[];

  @Field(() => [String], { defaultValue: [] })
  @IsArray()
  @ArrayMaxSize(PATTERN_LIMIT)
  @IsString({ each: true })
  @MaxLength(MAX_PATTERN_LENGTH, patternLength)
  images!: string[];

  @Field(() => GraphQLJSON, { nullable: true })
  @IsOptional()
  @IsObject()
  labelSelector?: Record<string, string>;

  @Field(() => [String], { defaultValue: [] })
  @IsArray()
  @ArrayMaxSize(500)
  @IsString({ each: true })
  cves!: string[];

  @Field(() => [String], { defaultValue: [] })
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  rules!: string[];

  @Field(() => MatchMode, { defaultValue: MatchMode.EQUALS })
  @IsEnum(MatchMode)
  match!: MatchMode;

  @Field()
  @IsString()
  @Length(1, 1000)
  reason!: string;

  @Field(() => Date, { nullable: true })
  @IsOptional()
  @IsDate()
  expiresAt?: Date;
}

@InputType()
export class PolicyFilter {
  @Field(() => PolicyType, { nullable: true })
  @IsOptional()
  @IsEnum(PolicyType)
  type?: PolicyType;

  @Field(() => PolicyAction, { nullable: true })
  @IsOptional()
  @IsEnum(PolicyAction)
  action?: PolicyAction;

  @Field(() => ID, { nullable: true, description: 'Policies whose scope names this cloud scope, or the whole tenant.' })
  @IsOptional()
  @IsUUID('all')
  cloudScopeId?: string;

  @Field({ nullable: true, description: 'Case-insensitive substring of the name.' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  name?: string;
}

@ArgsType()
export class PoliciesArgs extends PageArgs {
  @Field(() => PolicyFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => PolicyFilter)
  filter?: PolicyFilter;
}
