import { parseQuantity } from '../quantity';
import type { JsonSchema, ParamError, RuleParams } from '../types';

/**
 * Validates a value against the JSON Schema subset rule parameters use, with two
 * formats of our own: `quantity` (a Kubernetes resource quantity) and `capability`
 * (a Linux capability name, with or without CAP_). Errors name the parameter path.
 */
function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

const CAPABILITY = /^(CAP_)?[A-Z][A-Z0-9_]{1,31}$/i;
/** CVE-2024-3094, GHSA-xxxx-xxxx-xxxx, and the other advisory ids scanners report (RUSTSEC-, GO-, PYSEC-, DLA-...). */
export const ADVISORY_ID = /^[A-Z][A-Z0-9]*-[A-Za-z0-9:._-]+$/;

/**
 * The `pattern`s rule schemas may use: literals written here (each one unambiguous, so it
 * cannot backtrack), looked up by their source. A schema pattern is published as JSON
 * Schema text, but is never compiled from text: no regular expression is built at run time.
 */
export const SCHEMA_PATTERNS: ReadonlyMap<string, RegExp> = new Map([ADVISORY_ID].map((re) => [re.source, re]));

function schemaPattern(pattern: string): RegExp {
  const re = SCHEMA_PATTERNS.get(pattern);
  // a catalog bug, caught by the catalog's tests: every schema pattern is one of SCHEMA_PATTERNS
  if (!re) throw new Error(`rule schema pattern ${pattern} is not one of the engine's SCHEMA_PATTERNS`);
  return re;
}

function check(rule: string, path: string, value: unknown, schema: JsonSchema, errors: ParamError[]): void {
  const push = (message: string): void =>
    void errors.push({ rule, param: path, message: `rule "${rule}": parameter "${path}": ${message}` });
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const actual = typeOf(value);
    const ok = types.some((t) => t === actual || (t === 'number' && actual === 'integer'));
    if (!ok)
      return push(
        `expected ${types.join(' or ')}, got ${actual === 'string' ? JSON.stringify(value).slice(0, 60) : actual}`,
      );
  }
  if (schema.enum && !schema.enum.includes(value as never))
    return push(`must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) return push(`must be at least ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) return push(`must be at most ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength)
      return push(`must be at least ${schema.minLength} characters`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      return push(`must be at most ${schema.maxLength} characters`);
    if (schema.pattern !== undefined && !schemaPattern(schema.pattern).test(value))
      return push(`${JSON.stringify(value).slice(0, 60)} does not match ${schema.pattern}`);
    if (schema.format === 'quantity' && parseQuantity(value) === undefined)
      return push(
        `${JSON.stringify(value).slice(0, 60)} is not a Kubernetes quantity (e.g. "500m", "2", "512Mi", "4Gi")`,
      );
    if (schema.format === 'capability' && !CAPABILITY.test(value))
      return push(`${JSON.stringify(value).slice(0, 60)} is not a Linux capability name (e.g. NET_BIND_SERVICE)`);
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      return push(`must have at most ${schema.maxItems} items`);
    if (schema.items) value.forEach((v, i) => check(rule, `${path}[${i}]`, v, schema.items!, errors));
  }
  if (typeOf(value) === 'object' && schema.properties) {
    const obj = value as Record<string, unknown>;
    for (const req of schema.required ?? [])
      if (!(req in obj))
        errors.push({
          rule,
          param: `${path}.${req}`,
          message: `rule "${rule}": parameter "${path}.${req}" is required`,
        });
    for (const [k, v] of Object.entries(obj)) {
      const sub = schema.properties[k];
      if (!sub) {
        if (schema.additionalProperties === false)
          errors.push({
            rule,
            param: `${path}.${k}`,
            message: `rule "${rule}": parameter "${path}.${k}" is not known`,
          });
        continue;
      }
      check(rule, `${path}.${k}`, v, sub, errors);
    }
  }
}

/** Validates parameters and merges them over the schema's defaults. */
export function validateAgainst(
  rule: string,
  schema: JsonSchema,
  params: unknown,
  refine?: (p: RuleParams) => ParamError[],
): { ok: true; params: RuleParams } | { ok: false; errors: ParamError[] } {
  if (params === undefined || params === null) params = {};
  if (typeOf(params) !== 'object')
    return { ok: false, errors: [{ rule, param: '', message: `rule "${rule}": parameters must be an object` }] };
  const errors: ParamError[] = [];
  const given = params as Record<string, unknown>;
  for (const [k, v] of Object.entries(given)) {
    const sub = schema.properties?.[k];
    if (!sub) {
      errors.push({
        rule,
        param: k,
        message: `rule "${rule}": parameter "${k}" is not known; known: ${Object.keys(schema.properties ?? {}).join(', ') || 'none'}`,
      });
      continue;
    }
    check(rule, k, v, sub, errors);
  }
  if (errors.length) return { ok: false, errors };
  const merged: RuleParams = {};
  for (const [k, sub] of Object.entries(schema.properties ?? {}))
    merged[k] = k in given ? given[k] : structuredClone(sub.default ?? null);
  const refined = refine?.(merged) ?? [];
  return refined.length ? { ok: false, errors: refined } : { ok: true, params: merged };
}
