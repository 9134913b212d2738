import { Args, Field, ID, Int, Mutation, ObjectType, Query, Resolver, registerEnumType } from '@nestjs/graphql';
import { IdListArg } from '../graphql/id-arg';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { PolicyAsCodeService } from './policy-as-code.service';

enum PolicyImportChange {
  CREATED = 'CREATED',
  UPDATED = 'UPDATED',
  UNCHANGED = 'UNCHANGED',
}
registerEnumType(PolicyImportChange, { name: 'PolicyImportChange' });

@ObjectType()
class PolicyImportItem {
  @Field()
  name!: string;

  @Field(() => PolicyImportChange)
  change!: PolicyImportChange;

  @Field(() => ID, { nullable: true, description: 'null in a dry run that would create the policy.' })
  policyId!: string | null;

  @Field(() => Int, { nullable: true })
  version!: number | null;

  @Field(() => [String], { description: 'What an UPDATED policy changes: action, rules, exemptions, include, ...' })
  changedFields!: string[];
}

@ObjectType({ description: 'What an import changed (or, in a dry run, would change).' })
class PolicyImportResult {
  @Field()
  dryRun!: boolean;

  @Field(() => [PolicyImportItem])
  changes!: PolicyImportItem[];
}

@Resolver()
export class PolicyAsCodeResolver {
  constructor(private readonly service: PolicyAsCodeService) {}

  @Access('read')
  @Query(() => String, {
    description:
      'Policies in the policy-file format (YAML) that `portcullis eval -p` reads; all visible ones when ids is omitted.',
  })
  exportPolicies(@CurrentPrincipal() principal: Principal, @IdListArg('ids', 1000) ids?: string[]) {
    return this.service.export(principal, ids);
  }

  @Access('manage')
  @Mutation(() => PolicyImportResult, {
    description:
      'Creates or updates policies by name from a policy file, all or nothing. dryRun reports the changes and keeps none.',
  })
  async importPolicies(
    @CurrentPrincipal() principal: Principal,
    @Args('document') document: string,
    @Args('dryRun', { defaultValue: false }) dryRun: boolean,
  ): Promise<PolicyImportResult> {
    const outcome = await this.service.import(principal, document, dryRun);
    return {
      dryRun: outcome.dryRun,
      changes: outcome.changes.map((c) => ({
        ...c,
        change: c.change as PolicyImportChange,
        policyId: outcome.dryRun && c.change === 'CREATED' ? null : c.policyId,
      })),
    };
  }
}
