import { ArgsType, Field, ID, InputType, ObjectType, registerEnumType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { IsEnum, IsOptional, IsString, Length, MaxLength, ValidateNested } from 'class-validator';
import { CloudProvider } from '@portcullis/db';
import { PageArgs } from '../graphql/connection';

registerEnumType(CloudProvider, { name: 'CloudProvider', description: 'Kind of cloud account a scope stands for.' });

@ObjectType({ description: 'An Azure subscription, AWS account or GCP project that clusters belong to.' })
export class CloudScope {
  @Field(() => ID)
  id!: string;

  @Field(() => CloudProvider)
  provider!: CloudProvider;

  @Field({ description: 'Subscription GUID, 12-digit account id or project id.' })
  externalId!: string;

  @Field()
  displayName!: string;

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;
}

@InputType()
export class CreateCloudScopeInput {
  @Field(() => CloudProvider)
  @IsEnum(CloudProvider)
  provider!: CloudProvider;

  @Field()
  @IsString()
  @Length(1, 64)
  externalId!: string;

  @Field()
  @IsString()
  @Length(1, 200)
  displayName!: string;
}

@InputType()
export class UpdateCloudScopeInput {
  @Field()
  @IsString()
  @Length(1, 200)
  displayName!: string;
}

@InputType()
export class CloudScopeFilter {
  @Field(() => CloudProvider, { nullable: true })
  @IsOptional()
  @IsEnum(CloudProvider)
  provider?: CloudProvider;

  @Field({ nullable: true, description: 'Case-insensitive match on display name or external id.' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  search?: string;
}

@ArgsType()
export class CloudScopesArgs extends PageArgs {
  @Field(() => CloudScopeFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => CloudScopeFilter)
  filter?: CloudScopeFilter;
}
