import { ArgsType, Field, ID, InputType, ObjectType } from '@nestjs/graphql';
import { GraphQLJSON } from '../graphql/json.scalar';
import { Type } from 'class-transformer';
import { IsDate, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';
import { PageArgs } from '../graphql/connection';

@ObjectType({ description: 'Who changed what, when, with the state before and after.' })
export class AuditLogEntry {
  @Field(() => ID)
  id!: string;

  @Field()
  occurredAt!: Date;

  @Field({ description: 'Entra object id of the user, or platform-operator:<name> for onboarding.' })
  principalId!: string;

  @Field(() => String, { nullable: true })
  principalName!: string | null;

  @Field({ description: 'e.g. policy.update, role.assign, cluster.register' })
  action!: string;

  @Field()
  targetType!: string;

  @Field()
  targetId!: string;

  @Field(() => GraphQLJSON, { nullable: true })
  before!: unknown;

  @Field(() => GraphQLJSON, { nullable: true })
  after!: unknown;

  @Field(() => String, { nullable: true })
  requestId!: string | null;
}

@InputType()
export class AuditLogFilter {
  @Field({ nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  action?: string;

  @Field({ nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  targetType?: string;

  @Field({ nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  targetId?: string;

  @Field({ nullable: true })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  principalId?: string;

  @Field({ nullable: true })
  @IsOptional()
  @IsDate()
  from?: Date;

  @Field({ nullable: true })
  @IsOptional()
  @IsDate()
  to?: Date;
}

@ArgsType()
export class AuditLogArgs extends PageArgs {
  @Field(() => AuditLogFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => AuditLogFilter)
  filter?: AuditLogFilter;
}
