import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { ConnectionType } from '../../graphql/connection';
import { IdArg } from '../../graphql/id-arg';
import { Access } from '../../tenancy/access.decorator';
import { CurrentPrincipal } from '../../tenancy/current-principal.decorator';
import type { Principal } from '../../tenancy/principal';
import { AlertRuleService } from './alert-rule.service';
import { AlertRule, AlertRulesArgs, CreateAlertRuleInput, UpdateAlertRuleInput } from './alert-rule.types';

const AlertRuleConnection = ConnectionType(AlertRule, 'AlertRule');

@Resolver(() => AlertRule)
export class AlertRuleResolver {
  constructor(private readonly rules: AlertRuleService) {}

  @Access('read')
  @Query(() => AlertRuleConnection, { description: 'Alert rules of the tenant, newest first (tenant-level roles).' })
  alertRules(@CurrentPrincipal() principal: Principal, @Args() args: AlertRulesArgs) {
    return this.rules.list(principal, args);
  }

  @Access('manage')
  @Mutation(() => AlertRule, { description: 'Creates an alert rule (OWNER or SECURITY_ADMIN at tenant level).' })
  createAlertRule(@CurrentPrincipal() principal: Principal, @Args('input') input: CreateAlertRuleInput) {
    return this.rules.create(principal, input);
  }

  @Access('manage')
  @Mutation(() => AlertRule, { description: 'Changes an alert rule; its kind stays.' })
  updateAlertRule(
    @CurrentPrincipal() principal: Principal,
    @IdArg() id: string,
    @Args('input') input: UpdateAlertRuleInput,
  ) {
    return this.rules.update(principal, id, input);
  }

  @Access('manage')
  @Mutation(() => AlertRule, { description: 'Deletes an alert rule; alerts it raised stay in the delivery log.' })
  deleteAlertRule(@CurrentPrincipal() principal: Principal, @IdArg() id: string) {
    return this.rules.delete(principal, id);
  }
}
