import {
  PRESET_IDS,
  RULE_CATALOG,
  expandPreset,
  findRule,
  validateRuleParams,
  type PresetId,
} from '@portcullis/policy-engine';
import type { PolicyType } from '@portcullis/db';
import { badInput } from '@portcullis/platform';
import { schemaDefaults } from '../rule-catalog/rule-catalog.resolver';

export interface StoredRule {
  readonly ruleId: string;
  readonly enabled: boolean;
  readonly params: Record<string, unknown>;
}

export interface RuleInput {
  readonly ruleId: string;
  readonly enabled: boolean;
  readonly params?: Record<string, unknown>;
}

/** Validates one rule entry with the engine's schemas; errors name the rule and the parameter. */
function validated(type: PolicyType, input: RuleInput, field: string): StoredRule {
  const rule = findRule(input.ruleId);
  if (!rule)
    throw badInput(
      `${field}.ruleId`,
      `${field}.ruleId: unknown rule "${input.ruleId}"; see ruleCatalog for the rule ids`,
    );
  if (rule.policyType !== type)
    throw badInput(
      `${field}.ruleId`,
      `${field}.ruleId: rule "${rule.id}" belongs to ${rule.policyType} policies, not ${type}`,
    );
  const result = validateRuleParams(rule.id, input.params ?? {});
  if (!result.ok) {
    const e = result.errors[0]!;
    throw badInput(`${field}.params.${e.param}`, e.message);
  }
  return { ruleId: rule.id, enabled: input.enabled, params: result.params };
}

/** Every catalog rule of the type, disabled with its defaults: the base a policy's rules are laid on. */
function baseRules(type: PolicyType): Map<string, StoredRule> {
  return new Map(
    RULE_CATALOG.filter((r) => r.policyType === type).map((r) => [
      r.id,
      { ruleId: r.id, enabled: false, params: schemaDefaults(r.parameters) },
    ]),
  );
}

/** The full rule set of a new policy: presets first, then explicit rules; anything not named is disabled. */
export function composeRules(type: PolicyType, presets: readonly string[], rules: readonly RuleInput[]): StoredRule[] {
  const set = baseRules(type);
  presets.forEach((preset, i) => {
    if (!(PRESET_IDS as readonly string[]).includes(preset))
      throw badInput(`presets[${i}]`, `presets[${i}]: unknown preset "${preset}"; known: ${PRESET_IDS.join(', ')}`);
    if (type !== 'MISCONFIGURATION')
      throw badInput(
        `presets[${i}]`,
        `presets[${i}]: ${preset} holds misconfiguration rules; this is a ${type} policy`,
      );
    for (const r of expandPreset(preset as PresetId))
      set.set(r.id, { ruleId: r.id, enabled: true, params: { ...r.params } });
  });
  rules.forEach((r, i) => set.set(r.ruleId, validated(type, r, `rules[${i}]`)));
  return [...set.values()];
}

/** Applies rule changes to a stored set; rules not named keep their state. */
export function patchRules(
  type: PolicyType,
  current: readonly StoredRule[],
  changes: readonly RuleInput[],
): StoredRule[] {
  const set = baseRules(type);
  for (const r of current) if (set.has(r.ruleId)) set.set(r.ruleId, r);
  changes.forEach((r, i) => set.set(r.ruleId, validated(type, r, `rules[${i}]`)));
  return [...set.values()];
}

const NAMESPACE_PATTERN = /^[a-z0-9*?]([a-z0-9*?.-]{0,252})?$/;

export function validateNamespacePatterns(patterns: readonly string[], field: string): string[] {
  return patterns.map((p, i) => {
    const v = p.trim();
    if (!NAMESPACE_PATTERN.test(v)) {
      throw badInput(
        `${field}[${i}]`,
        `${field}[${i}]: "${p.slice(0, 80)}" is not a namespace pattern (lowercase letters, digits, "-", ".", and * or ? wildcards)`,
      );
    }
    return v;
  });
}
