import { Field, ID, ObjectType, registerEnumType } from '@nestjs/graphql';
import { Role } from '@portcullis/db';

registerEnumType(Role, {
  name: 'Role',
  description:
    'OWNER manages everything incl. role assignments; SECURITY_ADMIN manages policies, clusters and scopes; SECURITY_READER reads.',
});

@ObjectType()
export class RoleGrant {
  @Field(() => Role)
  role!: Role;

  @Field(() => ID, { nullable: true, description: 'The cloud scope the role is limited to; null = the whole tenant.' })
  cloudScopeId!: string | null;
}

@ObjectType({ description: 'The caller: who the token says it is, in which tenant, with which roles.' })
export class Me {
  @Field(() => ID)
  tenantId!: string;

  @Field()
  tenantName!: string;

  @Field(() => ID, { description: 'Entra ID object id (oid).' })
  objectId!: string;

  @Field(() => String, { nullable: true })
  name!: string | null;

  @Field(() => [RoleGrant])
  roles!: RoleGrant[];
}
