import { ArgsType, Field, ID, InputType, ObjectType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { IsEnum, IsOptional, IsUUID, ValidateNested } from 'class-validator';
import { Role } from '@portcullis/db';
import { PageArgs } from '../graphql/connection';
import { CloudScope } from '../cloud-scopes/cloud-scope.types';

@ObjectType({ description: 'A principal holds a role at tenant level or on one cloud scope.' })
export class RoleAssignment {
  @Field(() => ID)
  id!: string;

  @Field(() => ID, { description: 'Entra ID object id (oid) of the user, group or service principal.' })
  principalId!: string;

  @Field(() => Role)
  role!: Role;

  @Field(() => CloudScope, { nullable: true, description: 'null: the role applies to the whole tenant.' })
  cloudScope!: CloudScope | null;

  @Field()
  createdAt!: Date;

  @Field()
  createdBy!: string;
}

@InputType()
export class AssignRoleInput {
  @Field(() => ID)
  @IsUUID('all', { message: 'principalId must be an Entra ID object id (a GUID)' })
  principalId!: string;

  @Field(() => Role)
  @IsEnum(Role)
  role!: Role;

  @Field(() => ID, { nullable: true, description: 'Limit the role to this cloud scope; omit for tenant level.' })
  @IsOptional()
  @IsUUID('all', { message: 'cloudScopeId must be a cloud scope id' })
  cloudScopeId?: string;
}

@InputType()
export class RoleAssignmentFilter {
  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all')
  principalId?: string;

  @Field(() => Role, { nullable: true })
  @IsOptional()
  @IsEnum(Role)
  role?: Role;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all')
  cloudScopeId?: string;
}

@ArgsType()
export class RoleAssignmentsArgs extends PageArgs {
  @Field(() => RoleAssignmentFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => RoleAssignmentFilter)
  filter?: RoleAssignmentFilter;
}
