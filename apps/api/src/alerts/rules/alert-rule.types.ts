import { ArgsType, Field, ID, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsEnum,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { PageArgs } from '../../graphql/connection';
import { AdmissionDecision } from '../../inventory/inventory.types';

export enum AlertRuleKind {
  BLOCK_DENIAL = 'BLOCK_DENIAL',
  FIRST_WOULD_DENY = 'FIRST_WOULD_DENY',
  POLICY_READY = 'POLICY_READY',
  AGENT_SILENT = 'AGENT_SILENT',
  BUNDLE_BEHIND = 'BUNDLE_BEHIND',
  EVENTS_DROPPED = 'EVENTS_DROPPED',
  CONFIG_CHANGE = 'CONFIG_CHANGE',
}
registerEnumType(AlertRuleKind, {
  name: 'AlertRuleKind',
  description:
    'BLOCK_DENIAL: a Block-mode denial; FIRST_WOULD_DENY: the first would-be denial of a workload and rule under an Audit policy; ' +
    'POLICY_READY: a policy became ready to switch to Block; AGENT_SILENT / BUNDLE_BEHIND: a cluster silent or behind for thresholdMinutes; ' +
    'EVENTS_DROPPED: an agent dropped events; CONFIG_CHANGE: a policy, exemption or role change.',
});

export enum AlertSeverity {
  CRITICAL = 'CRITICAL',
  HIGH = 'HIGH',
  MEDIUM = 'MEDIUM',
  LOW = 'LOW',
  INFO = 'INFO',
}
registerEnumType(AlertSeverity, { name: 'AlertSeverity' });

/** Limits of a rule's filter lists. */
export const FILTER_MAX = 50;
export const DESTINATIONS_MAX = 20;

@ObjectType({ description: 'What narrows an alert rule; an empty list means any.' })
export class AlertRuleFilters {
  @Field(() => [ID])
  cloudScopeIds!: string[];

  @Field(() => [ID])
  clusterIds!: string[];

  @Field(() => [String], { description: 'Namespace globs (* and ?).' })
  namespacePatterns!: string[];

  @Field(() => [ID])
  policyIds!: string[];

  @Field(() => [String], { description: 'Rule ids of the rule catalog.' })
  ruleIds!: string[];

  @Field(() => [AdmissionDecision])
  decisions!: AdmissionDecision[];
}

@ObjectType({ description: 'When the tenant is alerted, about what, and where the alert goes.' })
export class AlertRule {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field(() => AlertRuleKind)
  kind!: AlertRuleKind;

  @Field(() => AlertSeverity)
  severity!: AlertSeverity;

  @Field()
  enabled!: boolean;

  @Field(() => AlertRuleFilters)
  filters!: AlertRuleFilters;

  @Field(() => Int, { nullable: true, description: 'AGENT_SILENT / BUNDLE_BEHIND: minutes before it alerts.' })
  thresholdMinutes!: number | null;

  @Field(() => Int, { description: 'POLICY_READY: days without a would-be denial that make a policy ready.' })
  readyAfterDays!: number;

  @Field(() => Int, {
    description: 'Occurrences after the first within this many seconds fold into one digest (0: every one alerts).',
  })
  digestSeconds!: number;

  @Field(() => [ID])
  destinationIds!: string[];

  @Field(() => Int)
  version!: number;

  @Field()
  createdAt!: Date;

  @Field()
  createdBy!: string;

  @Field()
  updatedAt!: Date;
}

@InputType()
export class AlertRuleFiltersInput {
  @Field(() => [ID], { nullable: true })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(FILTER_MAX)
  @IsUUID('all', { each: true, message: 'cloudScopeIds must be cloud scope ids' })
  cloudScopeIds?: string[];

  @Field(() => [ID], { nullable: true })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(FILTER_MAX)
  @IsUUID('all', { each: true, message: 'clusterIds must be cluster ids' })
  clusterIds?: string[];

  @Field(() => [String], { nullable: true })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(FILTER_MAX)
  @IsString({ each: true })
  @MaxLength(253, { each: true })
  namespacePatterns?: string[];

  @Field(() => [ID], { nullable: true })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(FILTER_MAX)
  @IsUUID('all', { each: true, message: 'policyIds must be policy ids' })
  policyIds?: string[];

  @Field(() => [String], { nullable: true })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(FILTER_MAX)
  @IsString({ each: true })
  @MaxLength(100, { each: true })
  ruleIds?: string[];

  @Field(() => [AdmissionDecision], { nullable: true })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(4)
  @IsEnum(AdmissionDecision, { each: true })
  decisions?: AdmissionDecision[];
}

@InputType()
export class CreateAlertRuleInput {
  @Field({ description: '1-100 characters, unique in the tenant.' })
  @IsString()
  @Length(1, 100, { message: 'name must be 1-100 characters' })
  @Matches(/\S/, { message: 'name must not be blank' })
  name!: string;

  @Field(() => AlertRuleKind)
  @IsEnum(AlertRuleKind)
  kind!: AlertRuleKind;

  @Field(() => AlertSeverity, { defaultValue: AlertSeverity.HIGH })
  @IsEnum(AlertSeverity)
  severity!: AlertSeverity;

  @Field({ defaultValue: true })
  @IsBoolean()
  enabled!: boolean;

  @Field(() => AlertRuleFiltersInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => AlertRuleFiltersInput)
  filters?: AlertRuleFiltersInput;

  @Field(() => Int, { nullable: true, description: 'Required for AGENT_SILENT and BUNDLE_BEHIND: 1-10,080.' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_080)
  thresholdMinutes?: number;

  @Field(() => Int, { defaultValue: 7, description: 'POLICY_READY: 1-90.' })
  @IsInt()
  @Min(1)
  @Max(90)
  readyAfterDays!: number;

  @Field(() => Int, { defaultValue: 60, description: '0-86,400 seconds.' })
  @IsInt()
  @Min(0)
  @Max(86_400)
  digestSeconds!: number;

  @Field(() => [ID], { description: `Alert destinations of the tenant, 1-${DESTINATIONS_MAX}.` })
  @IsArray()
  @ArrayMaxSize(DESTINATIONS_MAX)
  @IsUUID('all', { each: true, message: 'destinationIds must be alert destination ids' })
  destinationIds!: string[];
}

@InputType()
export class UpdateAlertRuleInput {
  @Field({ nullable: true })
  @IsOptional()
  @IsString()
  @Length(1, 100, { message: 'name must be 1-100 characters' })
  @Matches(/\S/, { message: 'name must not be blank' })
  name?: string;

  @Field(() => AlertSeverity, { nullable: true })
  @IsOptional()
  @IsEnum(AlertSeverity)
  severity?: AlertSeverity;

  @Field({ nullable: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @Field(() => AlertRuleFiltersInput, { nullable: true, description: 'Replaces the filters whole.' })
  @IsOptional()
  @ValidateNested()
  @Type(() => AlertRuleFiltersInput)
  filters?: AlertRuleFiltersInput;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_080)
  thresholdMinutes?: number;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(90)
  readyAfterDays?: number;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86_400)
  digestSeconds?: number;

  @Field(() => [ID], { nullable: true, description: 'Replaces the destinations whole.' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(DESTINATIONS_MAX)
  @IsUUID('all', { each: true, message: 'destinationIds must be alert destination ids' })
  destinationIds?: string[];
}

@ArgsType()
export class AlertRulesArgs extends PageArgs {
  @Field(() => AlertRuleKind, { nullable: true })
  @IsOptional()
  @IsEnum(AlertRuleKind)
  kind?: AlertRuleKind;
}
