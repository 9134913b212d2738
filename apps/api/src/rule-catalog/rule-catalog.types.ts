import { Field, ObjectType, registerEnumType } from '@nestjs/graphql';
import { PolicyAction, PolicyType } from '@portcullis/db';
import { GraphQLJSON } from '../graphql/json.scalar';

registerEnumType(PolicyType, { name: 'PolicyType' });
registerEnumType(PolicyAction, {
  name: 'PolicyAction',
  description: 'AUDIT logs and allows; BLOCK denies the admission.',
});

@ObjectType({ description: 'One rule of the catalog, as libs/policy-engine defines it.' })
export class RuleDefinition {
  @Field({ description: 'Stable rule id (a contract: policy files and bundles name rules by it).' })
  id!: string;

  @Field()
  title!: string;

  @Field()
  description!: string;

  @Field()
  category!: string;

  @Field(() => PolicyType)
  policyType!: PolicyType;

  @Field(() => [String], { description: 'Pod Security Standards levels whose preset includes the rule.' })
  pssLevels!: string[];

  @Field()
  defaultEnabled!: boolean;

  @Field(() => GraphQLJSON, { description: 'JSON Schema of the parameters.' })
  parameterSchema!: unknown;

  @Field(() => GraphQLJSON, { description: 'Parameter defaults.' })
  defaults!: Record<string, unknown>;

  @Field()
  remediation!: string;
}

@ObjectType()
export class PresetRule {
  @Field()
  ruleId!: string;

  @Field(() => GraphQLJSON)
  params!: unknown;
}

@ObjectType({ description: 'A named list of rules with parameters, e.g. pss-restricted.' })
export class RulePreset {
  @Field()
  id!: string;

  @Field(() => [PresetRule])
  rules!: PresetRule[];
}

@ObjectType()
export class RuleCatalog {
  @Field(() => [RuleDefinition])
  rules!: RuleDefinition[];

  @Field(() => [RulePreset])
  presets!: RulePreset[];
}
