import type {
  EvaluationContext,
  JsonSchema,
  ParamError,
  PolicyType,
  PssLevel,
  RuleCategory,
  RuleDefinition,
  RuleFinding,
  RuleParams,
} from '../types';
import type { GenericTarget, IngressTarget, PodTarget } from '../workload';

export type Target = PodTarget | IngressTarget | GenericTarget;

/** A compiled rule: parameters already parsed, so evaluation does no parsing. */
export type Check = (target: Target, ctx: EvaluationContext, out: RuleFinding[]) => void;

export interface RuleImpl {
  readonly definition: RuleDefinition;
  /** Cross-parameter validation beyond the schema (ranges, quantities...). */
  readonly refine?: (params: RuleParams) => ParamError[];
  compile(params: RuleParams): Check;
}

interface Meta {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly category: RuleCategory;
  readonly policyType?: PolicyType;
  readonly pssLevels?: readonly PssLevel[];
  readonly defaultEnabled: boolean;
  readonly parameters?: Record<string, JsonSchema>;
  readonly remediation: string;
}

export function definition(m: Meta): RuleDefinition {
  return {
    id: m.id,
    title: m.title,
    description: m.description,
    category: m.category,
    policyType: m.policyType ?? 'MISCONFIGURATION',
    pssLevels: m.pssLevels ?? [],
    defaultEnabled: m.defaultEnabled,
    parameters: { type: 'object', additionalProperties: false, properties: m.parameters ?? {} },
    remediation: m.remediation,
  };
}

/** A rule that looks at pod specs only. */
export function podRule(
  meta: Meta,
  compile: (params: RuleParams) => (pod: PodTarget, ctx: EvaluationContext, out: RuleFinding[]) => void,
  refine?: (params: RuleParams) => ParamError[],
): RuleImpl {
  return {
    definition: definition(meta),
    refine,
    compile(params) {
      const check = compile(params);
      return (t, ctx, out) => {
        if (t.status === 'pod') check(t, ctx, out);
      };
    },
  };
}

/** Capability names compare without CAP_ and case-insensitively, as Pod Security Admission does. */
export const capability = (name: unknown): string =>
  typeof name === 'string' ? name.toUpperCase().replace(/^CAP_/, '') : '';

export const asStrings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/**
 * A value read from the object, for a message: primitives as String() gives them, anything
 * else as JSON, at most 80 characters. Never throws: String() of an object whose toString
 * is not callable (`{"toString": null}` is valid JSON) would fail the rule, and a rule that
 * fails never denies.
 */
export function shown(v: unknown): string {
  let text: string;
  if (v === null || (typeof v !== 'object' && typeof v !== 'function'))
    text = typeof v === 'symbol' ? v.toString() : String(v);
  else {
    try {
      text = JSON.stringify(v) ?? typeof v;
    } catch {
      text = Array.isArray(v) ? 'an array' : `a ${typeof v}`;
    }
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export const get = (o: unknown, key: string): unknown =>
  typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as Record<string, unknown>)[key] : undefined;
