import { ArgsType, Field, ID, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsDate,
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
import { ALERT_KINDS, DELIVERY_STATUSES, DESTINATION_KINDS } from '@portcullis/alerts';
import { PageArgs } from '../graphql/connection';

const enumOf = <T extends string>(values: readonly T[]) =>
  Object.fromEntries(values.map((v) => [v, v])) as { [K in T]: K };

export const AlertDestinationKind = enumOf(DESTINATION_KINDS);
export type AlertDestinationKind = keyof typeof AlertDestinationKind;
export const AlertDeliveryStatus = enumOf(DELIVERY_STATUSES);
export type AlertDeliveryStatus = keyof typeof AlertDeliveryStatus;
export const AlertKind = enumOf(ALERT_KINDS);
export type AlertKind = keyof typeof AlertKind;

registerEnumType(AlertDestinationKind, {
  name: 'AlertDestinationKind',
  description:
    'WEBHOOK: any HTTPS endpoint, signed the Standard Webhooks way; SLACK: an incoming webhook; TEAMS: a workflow webhook (Adaptive Card); SIEM: batched NDJSON CloudEvents over HTTPS.',
});
registerEnumType(AlertDeliveryStatus, {
  name: 'AlertDeliveryStatus',
  description:
    'QUEUED: not tried yet; RETRYING: failed, tried again later; DELIVERED: 2xx; DEAD: given up (dead letter).',
});
registerEnumType(AlertKind, { name: 'AlertKind' });

@ObjectType({
  description:
    'Where alerts go. The URL, signing secrets and token are stored encrypted and never returned: urlHost shows the host only.',
})
export class AlertDestination {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field(() => AlertDestinationKind)
  kind!: AlertDestinationKind;

  @Field()
  enabled!: boolean;

  @Field({ description: 'The host of the URL, e.g. hooks.slack.com/… (the rest of the URL is a secret).' })
  urlHost!: string;

  @Field(() => String, {
    nullable: true,
    description: 'SIEM: the header that carries the token (its value is never shown).',
  })
  tokenHeader!: string | null;

  @Field(() => Int, { description: 'Requests a minute at most to this destination; over it, deliveries wait.' })
  rateLimitPerMinute!: number;

  @Field(() => Date, { nullable: true, description: 'WEBHOOK: when the signing secret was last rotated.' })
  secretRotatedAt!: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: 'WEBHOOK: until when the previous secret also signs (both signatures are sent).',
  })
  previousSecretExpiresAt!: Date | null;

  @Field()
  createdAt!: Date;

  @Field({ description: 'Object id of who created it.' })
  createdBy!: string;

  @Field()
  updatedAt!: Date;
}

@ObjectType({ description: 'A destination and, for WEBHOOK, its signing secret: shown this once.' })
export class AlertDestinationWithSecret {
  @Field(() => AlertDestination)
  destination!: AlertDestination;

  @Field(() => String, {
    nullable: true,
    description: 'WEBHOOK: the signing secret (whsec_…) to verify requests with. It cannot be shown again.',
  })
  secret!: string | null;
}

const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;

@InputType()
export class CreateAlertDestinationInput {
  @Field({ description: '1-100 characters, unique in the tenant.' })
  @IsString()
  @Length(1, 100, { message: 'name must be 1-100 characters' })
  @Matches(/\S/, { message: 'name must not be blank' })
  name!: string;

  @Field(() => AlertDestinationKind)
  @IsEnum(AlertDestinationKind)
  kind!: AlertDestinationKind;

  @Field({ description: 'An https URL (Slack and Teams: the webhook URL they gave you).' })
  @IsString()
  @MaxLength(2048)
  url!: string;

  @Field(() => String, { nullable: true, description: 'SIEM only: header carrying the token, e.g. Authorization.' })
  @IsOptional()
  @IsString()
  @Matches(HEADER_NAME, { message: 'tokenHeader must be an HTTP header name (letters, digits, "-")' })
  tokenHeader?: string;

  @Field(() => String, {
    nullable: true,
    description: 'SIEM only: the header value, e.g. "Bearer …". Stored encrypted.',
  })
  @IsOptional()
  @IsString()
  @Length(1, 4096)
  token?: string;

  @Field(() => Int, { nullable: true, description: '1-6000 (default: the deployment setting, 60).' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(6000)
  rateLimitPerMinute?: number;

  @Field({ nullable: true, defaultValue: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

@InputType()
export class UpdateAlertDestinationInput {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @Length(1, 100, { message: 'name must be 1-100 characters' })
  @Matches(/\S/, { message: 'name must not be blank' })
  name?: string;

  @Field(() => String, { nullable: true, description: 'A new URL (replaces the stored one).' })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  url?: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @Matches(HEADER_NAME, { message: 'tokenHeader must be an HTTP header name (letters, digits, "-")' })
  tokenHeader?: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString()
  @Length(1, 4096)
  token?: string;

  @Field({ nullable: true, description: 'SIEM: drop the token header.' })
  @IsOptional()
  @IsBoolean()
  clearToken?: boolean;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(6000)
  rateLimitPerMinute?: number;

  @Field(() => Boolean, { nullable: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

@ArgsType()
export class AlertDestinationsArgs extends PageArgs {
  @Field({ nullable: true, defaultValue: false, description: 'Also list deleted destinations.' })
  @IsOptional()
  @IsBoolean()
  includeDeleted?: boolean;
}

@ObjectType({ description: 'One alert sent (or being sent) to one destination: a line of the delivery log.' })
export class AlertDelivery {
  @Field(() => ID)
  id!: string;

  @Field(() => ID, { description: 'The alert id: the webhook-id / CloudEvents id receivers deduplicate on.' })
  alertId!: string;

  @Field(() => AlertKind)
  alertKind!: AlertKind;

  @Field()
  severity!: string;

  @Field()
  title!: string;

  @Field(() => ID)
  destinationId!: string;

  @Field()
  destinationName!: string;

  @Field(() => AlertDestinationKind)
  destinationKind!: AlertDestinationKind;

  @Field(() => ID, { nullable: true })
  cloudScopeId!: string | null;

  @Field(() => ID, { nullable: true })
  clusterId!: string | null;

  @Field(() => AlertDeliveryStatus)
  status!: AlertDeliveryStatus;

  @Field(() => Int)
  attempts!: number;

  @Field(() => Int, { nullable: true })
  lastHttpStatus!: number | null;

  @Field(() => String, {
    nullable: true,
    description: 'Why the last attempt failed (never a URL path, secret or token).',
  })
  lastError!: string | null;

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;

  @Field(() => Date, { nullable: true })
  nextAttemptAt!: Date | null;

  @Field(() => Date, { nullable: true })
  deliveredAt!: Date | null;

  @Field(() => Date, { nullable: true })
  deadAt!: Date | null;
}

@InputType()
export class AlertDeliveryFilter {
  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all', { message: 'destinationId must be an id' })
  destinationId?: string;

  @Field(() => AlertDeliveryStatus, { nullable: true })
  @IsOptional()
  @IsEnum(AlertDeliveryStatus)
  status?: AlertDeliveryStatus;

  @Field(() => AlertKind, { nullable: true })
  @IsOptional()
  @IsEnum(AlertKind)
  kind?: AlertKind;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all', { message: 'clusterId must be an id' })
  clusterId?: string;

  @Field(() => Date, { nullable: true, description: 'Deliveries created at or after this time.' })
  @IsOptional()
  @IsDate()
  since?: Date;
}

@ArgsType()
export class AlertDeliveriesArgs extends PageArgs {
  @Field(() => AlertDeliveryFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => AlertDeliveryFilter)
  filter?: AlertDeliveryFilter;
}
