import type { EvaluationContext, RuleConfig, RuleFinding } from '../types';
import type { InspectedObject } from '../workload';
import { ruleImpl, validateRuleParams } from './catalog';
import type { Check } from './rule';

/** Rules with their parameters parsed once, ready to run on any number of objects. */
export interface CompiledRuleSet {
  readonly ids: readonly string[];
  readonly checks: readonly Check[];
}

/** Throws on an unknown rule or invalid parameters: callers validate first (validateRuleParams). */
export function compileRules(rules: readonly RuleConfig[]): CompiledRuleSet {
  const checks: Check[] = [];
  for (const r of rules) {
    const impl = ruleImpl(r.id);
    if (!impl) throw new Error(`unknown rule "${r.id}"`);
    const v = validateRuleParams(r.id, r.params);
    if (!v.ok) throw new Error(v.errors[0]!.message);
    checks.push(impl.compile(v.params));
  }
  return { ids: rules.map((r) => r.id), checks };
}

/** Runs every compiled rule on an inspected object. Never throws: a failing check is reported as a finding of its own. */
export function runRules(target: InspectedObject, rules: CompiledRuleSet, ctx: EvaluationContext): RuleFinding[] {
  if (target.status !== 'pod' && target.status !== 'ingress' && target.status !== 'generic') return [];
  const out: RuleFinding[] = [];
  for (let i = 0; i < rules.checks.length; i++) {
    try {
      rules.checks[i]!(target, ctx, out);
    } catch (err) {
      // a bug in one rule must never take down admission; it is visible as a finding
      out.push({
        rule: rules.ids[i]!,
        path: '',
        message: `rule ${rules.ids[i]} could not evaluate this object: ${err instanceof Error ? err.message : String(err)}`,
        reason: 'RULE_ERROR',
      });
    }
  }
  return out;
}
