/**
 * The CEL that kube-apiserver evaluates for ValidatingAdmissionPolicy, on top of @bufbuild/cel
 * (a conformant CEL implementation): its standard library, the extended strings library, and
 * the Kubernetes CEL libraries a policy compiler for our rule catalog needs — lists, regex,
 * quantity — plus CEL optionals (`a.?b`, `m[?k]`, `optional.*`, `.orValue()` …), which the
 * @bufbuild/cel parser does not accept, through a source rewrite into method calls.
 * Semantics follow https://kubernetes.io/docs/reference/using-api/cel/ and the
 * k8s.io/apiserver/pkg/cel/library sources.
 */
import {
  CelScalar,
  celEnv,
  celFunc,
  celList,
  celMap,
  celMethod,
  isCelError,
  isCelList,
  isCelMap,
  isCelUint,
  listType,
  parse,
  plan,
  type CelFunc,
  type CelList,
  type CelMap,
  type CelValue,
} from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { RE2JS } from 're2js';
import {
  compareQuantity,
  isQuantity,
  parseQuantity,
  quantityAsApproximateFloat,
  quantityAsInt64,
  quantityKey,
  quantitySign,
  type Quantity,
} from './quantity';

const { DYN, STRING, INT, BOOL } = CelScalar;
const LIST = listType(DYN);

// ---------------------------------------------------------------------------------------------
// optionals: represented as a one-entry map {"@optional": [] | [value]} that only this module
// creates (so two optionals compare equal exactly when their values do)

const OPTIONALS = new WeakSet<object>();
const OPTIONAL_KEY = '@optional';

function optionalOf(v: CelValue | undefined): CelMap {
  const m = celMap(new Map([[OPTIONAL_KEY, celList(v === undefined ? [] : [v])]]));
  OPTIONALS.add(m);
  return m;
}

function isOptional(v: unknown): v is CelMap {
  return typeof v === 'object' && v !== null && OPTIONALS.has(v);
}

function optionalValue(o: CelMap): CelValue | undefined {
  return (o.get(OPTIONAL_KEY) as CelList).get(0);
}

function optSelect(target: CelValue, key: CelValue): CelValue {
  if (isOptional(target)) {
    const inner = optionalValue(target);
    return inner === undefined ? target : optSelect(inner, key);
  }
  if (isCelMap(target)) {
    if (typeof key !== 'string' && typeof key !== 'bigint' && typeof key !== 'boolean' && !isCelUint(key))
      throw new Error(`unsupported optional key type ${typeof key}`);
    return target.has(key) ? optionalOf(target.get(key)) : optionalOf(undefined);
  }
  if (isCelList(target)) {
    if (typeof key !== 'bigint') throw new Error('optional list index must be an int');
    const idx = Number(key);
    return idx >= 0 && idx < target.size ? optionalOf(target.get(idx)) : optionalOf(undefined);
  }
  throw new Error(`no such key: optional selection on a ${target === null ? 'null' : typeof target} value`);
}

function nonZero(v: CelValue): boolean {
  if (v === null) return false;
  if (typeof v === 'string') return v.length > 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'boolean') return v;
  if (isCelList(v) || isCelMap(v)) return v.size > 0;
  if (isCelUint(v)) return v.value !== 0n;
  return true;
}

const optionalFuncs: CelFunc[] = [
  celMethod('_opt_select_', DYN, [STRING], DYN, function (key) {
    return optSelect(this, key);
  }),
  celMethod('_opt_index_', DYN, [DYN], DYN, function (key) {
    return optSelect(this, key);
  }),
  celFunc('optional.of', [DYN], DYN, (v) => optionalOf(v)),
  celFunc('optional.ofNonZeroValue', [DYN], DYN, (v) => optionalOf(nonZero(v) ? v : undefined)),
  celFunc('optional.none', [], DYN, () => optionalOf(undefined)),
  celMethod('hasValue', DYN, [], BOOL, function () {
    return isOptional(this) ? optionalValue(this) !== undefined : fail('hasValue() applies to optionals');
  }),
  celMethod('value', DYN, [], DYN, function () {
    if (!isOptional(this)) throw new Error('value() applies to optionals');
    const v = optionalValue(this);
    return v === undefined ? fail('optional.none() dereference') : v;
  }),
  celMethod('orValue', DYN, [DYN], DYN, function (alt) {
    if (!isOptional(this)) throw new Error('orValue() applies to optionals');
    const v = optionalValue(this);
    return v === undefined ? alt : v;
  }),
  celMethod('or', DYN, [DYN], DYN, function (alt) {
    if (!isOptional(this) || !isOptional(alt)) throw new Error('or() applies to optionals');
    return optionalValue(this) === undefined ? alt : this;
  }),
];

/**
 * Rewrites CEL's optional syntax into method calls @bufbuild/cel parses: `x.?f` ->
 * `x._opt_select_("f")`, `x[?k]` -> `x._opt_index_(k)`; once a chain is optional, its later
 * `.f` and `[k]` are optional too (as cel-go's optional qualifiers). Optional list/map literal
 * entries (`[?e]`, `{?k: v}`) are refused with an error.
 */
export function rewriteOptionals(src: string): string {
  if (!src.includes('?')) return src;
  let out = '';
  let i = 0;
  let opt = false;
  const stack: Array<{ emit: string; restore: boolean }> = [];
  const isIdStart = (c: string | undefined): boolean => c !== undefined && /[A-Za-z_]/.test(c);
  const isId = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);
  const skipWs = (j: number): number => {
    while (j < src.length && /\s/.test(src[j] as string)) j++;
    return j;
  };
  const readId = (j: number): [string, number] => {
    let k = j;
    while (isId(src[k])) k++;
    return [src.slice(j, k), k];
  };
  while (i < src.length) {
    const c = src[i] as string;
    // string and bytes literals, copied as they are
    const lit = /^(?:[rRbB]{0,2})("""|'''|"|')/.exec(src.slice(i, i + 5));
    if (lit && (c === '"' || c === "'" || i === 0 || !isId(src[i - 1]))) {
      const quote = lit[1] as string;
      const raw = /[rR]/.test(lit[0].slice(0, lit[0].length - quote.length));
      let j = i + lit[0].length;
      while (j < src.length && !src.startsWith(quote, j)) j += !raw && src[j] === '\\' ? 2 : 1;
      j += quote.length;
      out += src.slice(i, j);
      i = j;
      opt = false;
      continue;
    }
    if (c === '.') {
      const j = skipWs(i + 1);
      if (src[j] === '?') {
        const [id, k] = readId(skipWs(j + 1));
        if (!id) throw new Error(`optional selection '.?' at ${i} is not followed by a field name`);
        out += `._opt_select_(${JSON.stringify(id)})`;
        i = k;
        opt = true;
        continue;
      }
      if (opt && isIdStart(src[j])) {
        const [id, k] = readId(j);
        if (src[skipWs(k)] === '(') {
          out += '.' + id;
          opt = false;
        } else out += `._opt_select_(${JSON.stringify(id)})`;
        i = k;
        continue;
      }
      out += c;
      i++;
      continue;
    }
    if (c === '[') {
      const prev = out.trimEnd().slice(-1);
      const isIndex = isId(prev) || prev === ')' || prev === ']' || prev === '"' || prev === "'";
      const j = skipWs(i + 1);
      if (src[j] === '?' && !isIndex) throw new Error(`optional list element '[?' at ${i} is not supported`);
      if (isIndex && (src[j] === '?' || opt)) {
        out += '._opt_index_(';
        stack.push({ emit: ')', restore: true });
        i = src[j] === '?' ? j + 1 : i + 1;
        opt = false;
        continue;
      }
      out += c;
      stack.push({ emit: ']', restore: false });
      i++;
      opt = false;
      continue;
    }
    if (c === '{' || c === '(') {
      if (c === '{' && src[skipWs(i + 1)] === '?') throw new Error(`optional map entry '{?' at ${i} is not supported`);
      out += c;
      stack.push({ emit: c === '{' ? '}' : ')', restore: false });
      i++;
      opt = false;
      continue;
    }
    if (c === ']' || c === ')' || c === '}') {
      const frame = stack.pop();
      out += frame ? frame.emit : c;
      opt = frame ? frame.restore : false;
      i++;
      continue;
    }
    if (c === ',' && src[skipWs(i + 1)] === '?') throw new Error(`optional entry ', ?' at ${i} is not supported`);
    out += c;
    i++;
    if (!/\s/.test(c)) opt = false;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// equality and ordering, as CEL defines them, for the list library

function celEquals(a: CelValue | undefined, b: CelValue | undefined): boolean {
  if (a === b) return true;
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number'))
    return Number(a) === Number(b) && (typeof a !== 'number' || !Number.isNaN(a));
  if (isCelUint(a) && isCelUint(b)) return a.value === b.value;
  if (isCelList(a) && isCelList(b)) {
    if (a.size !== b.size) return false;
    for (let i = 0; i < a.size; i++) if (!celEquals(a.get(i), b.get(i))) return false;
    return true;
  }
  if (isCelMap(a) && isCelMap(b)) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !celEquals(v, b.get(k))) return false;
    return true;
  }
  return false;
}

function compare(a: CelValue | undefined, b: CelValue | undefined): number {
  const num = (v: unknown): v is bigint | number => typeof v === 'bigint' || typeof v === 'number';
  if (num(a) && num(b)) {
    if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
    return Number(a) < Number(b) ? -1 : Number(a) > Number(b) ? 1 : 0;
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (isCelUint(a) && isCelUint(b)) return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
  throw new Error(`no such overload: comparing ${typeof a} and ${typeof b}`);
}

/** an error inside a function implementation: @bufbuild/cel turns what it throws into a CEL error */
function fail(message: string): never {
  throw new Error(message);
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

const listFuncs: CelFunc[] = [
  celMethod('isSorted', LIST, [], BOOL, function () {
    for (let i = 1; i < this.size; i++) if (compare(this.get(i - 1), this.get(i)) > 0) return false;
    return true;
  }),
  celMethod('sum', LIST, [], DYN, function () {
    let acc: bigint | number = 0n;
    for (const v of this) {
      if (typeof v === 'bigint' && typeof acc === 'bigint') {
        acc += v;
        if (acc > INT64_MAX || acc < INT64_MIN) throw new Error('integer overflow');
      } else if (typeof v === 'number' && (typeof acc === 'number' || acc === 0n)) acc = Number(acc) + v;
      else throw new Error(`no such overload: sum of ${typeof v}`);
    }
    return acc;
  }),
  ...(['min', 'max'] as const).map((name) =>
    celMethod(name, LIST, [], DYN, function () {
      if (this.size === 0) throw new Error(`${name} called on empty list`);
      let best = this.get(0) as CelValue;
      for (const v of this) {
        const c = compare(v, best);
        if (name === 'min' ? c < 0 : c > 0) best = v;
      }
      return best;
    }),
  ),
  celMethod('indexOf', LIST, [DYN], INT, function (x) {
    for (let i = 0; i < this.size; i++) if (celEquals(this.get(i), x)) return BigInt(i);
    return -1n;
  }),
  celMethod('lastIndexOf', LIST, [DYN], INT, function (x) {
    for (let i = this.size - 1; i >= 0; i--) if (celEquals(this.get(i), x)) return BigInt(i);
    return -1n;
  }),
];

// ---------------------------------------------------------------------------------------------
// regex: RE2 semantics (re2js, the RE2/J port) for find/findAll; `matches` is @bufbuild/cel's own

const REGEX_CACHE = new Map<string, RE2JS>();
function re2(pattern: string): RE2JS {
  let re = REGEX_CACHE.get(pattern);
  if (!re) {
    re = RE2JS.compile(pattern);
    if (REGEX_CACHE.size > 1000) REGEX_CACHE.clear();
    REGEX_CACHE.set(pattern, re);
  }
  return re;
}

function findAll(s: string, pattern: string, limit: bigint): string[] {
  const found: string[] = [];
  if (limit === 0n) return found;
  const m = re2(pattern).matcher(s);
  while (m.find()) {
    found.push(m.group() ?? '');
    if (limit > 0n && BigInt(found.length) >= limit) break;
  }
  return found;
}

const regexFuncs: CelFunc[] = [
  celMethod('find', STRING, [STRING], STRING, function (pattern) {
    return findAll(this, pattern, 1n)[0] ?? '';
  }),
  celMethod('findAll', STRING, [STRING], listType(STRING), function (pattern) {
    return findAll(this, pattern, -1n);
  }),
  celMethod('findAll', STRING, [STRING, INT], listType(STRING), function (pattern, limit) {
    return findAll(this, pattern, limit);
  }),
];

// ---------------------------------------------------------------------------------------------
// quantity: a one-entry map {"@quantity": "<exact value>"} this module creates, so two
// quantities are == exactly when their values are (as Quantity.Equal)

const QUANTITIES = new WeakMap<object, Quantity>();
function quantityValue(q: Quantity): CelMap {
  const m = celMap(new Map([['@quantity', quantityKey(q)]]));
  QUANTITIES.set(m, q);
  return m;
}
function asQuantity(v: CelValue): Quantity | undefined {
  return typeof v === 'object' && v !== null ? QUANTITIES.get(v) : undefined;
}
function quantityMethod(
  name: string,
  args: readonly [] | readonly [typeof DYN],
  impl: (q: Quantity, arg: CelValue | undefined) => CelValue,
): CelFunc {
  const result = DYN;
  if (args.length === 0)
    return celMethod(name, DYN, [], result, function () {
      const q = asQuantity(this);
      return q ? impl(q, undefined) : fail(`no such overload: ${name}() applies to a quantity`);
    });
  return celMethod(name, DYN, [DYN], result, function (arg) {
    const q = asQuantity(this);
    return q ? impl(q, arg) : fail(`no such overload: ${name}() applies to a quantity`);
  });
}
function otherQuantity(name: string, arg: CelValue | undefined, ints: boolean): Quantity {
  if (ints && typeof arg === 'bigint') return { nanos: arg * 1_000_000_000n };
  const q = arg === undefined ? undefined : asQuantity(arg);
  if (!q) throw new Error(`no such overload: ${name}(${typeof arg})`);
  return q;
}

const quantityFuncs: CelFunc[] = [
  celFunc('quantity', [STRING], DYN, (s) => quantityValue(parseQuantity(s))),
  celFunc('isQuantity', [STRING], BOOL, (s) => isQuantity(s)),
  quantityMethod('sign', [], (q) => quantitySign(q)),
  quantityMethod('isInteger', [], (q) => quantityAsInt64(q) !== undefined),
  quantityMethod('asInteger', [], (q) => {
    const v = quantityAsInt64(q);
    return v === undefined ? fail('cannot convert value to integer: overflow or loss of precision') : v;
  }),
  quantityMethod('asApproximateFloat', [], (q) => quantityAsApproximateFloat(q)),
  quantityMethod('compareTo', [DYN], (q, a) => BigInt(compareQuantity(q, otherQuantity('compareTo', a, false)))),
  quantityMethod('isLessThan', [DYN], (q, a) => compareQuantity(q, otherQuantity('isLessThan', a, false)) < 0),
  quantityMethod('isGreaterThan', [DYN], (q, a) => compareQuantity(q, otherQuantity('isGreaterThan', a, false)) > 0),
  quantityMethod('add', [DYN], (q, a) => quantityValue({ nanos: q.nanos + otherQuantity('add', a, true).nanos })),
  quantityMethod('sub', [DYN], (q, a) => quantityValue({ nanos: q.nanos - otherQuantity('sub', a, true).nanos })),
];

// ---------------------------------------------------------------------------------------------
// split and replace as cel-go's strings extension defines them (Go's strings.SplitN and
// strings.Replace): @bufbuild/cel 0.6.1 differs (split(',', 2) drops the remainder; a negative
// replace count replaces nothing; an empty `old` is mishandled), so these two take its place

function goSplitN(s: string, sep: string, n: number): string[] {
  if (n === 0) return [];
  if (sep === '') {
    const runes = [...s];
    if (n < 0 || n >= runes.length) return runes;
    return [...runes.slice(0, n - 1), runes.slice(n - 1).join('')];
  }
  const parts: string[] = [];
  let rest = s;
  while (n < 0 || parts.length < n - 1) {
    const i = rest.indexOf(sep);
    if (i < 0) break;
    parts.push(rest.slice(0, i));
    rest = rest.slice(i + sep.length);
  }
  parts.push(rest);
  return parts;
}

function goReplace(s: string, old: string, replacement: string, n: number): string {
  if (n === 0 || (old === replacement && old !== '')) return s;
  if (old === '') {
    const runes = [...s];
    let out = '';
    let done = 0;
    for (let i = 0; i <= runes.length; i++) {
      if (n < 0 || done < n) {
        out += replacement;
        done++;
      }
      if (i < runes.length) out += runes[i];
    }
    return out;
  }
  let out = '';
  let rest = s;
  let done = 0;
  while (n < 0 || done < n) {
    const i = rest.indexOf(old);
    if (i < 0) break;
    out += rest.slice(0, i) + replacement;
    rest = rest.slice(i + old.length);
    done++;
  }
  return out + rest;
}

const goStrings: CelFunc[] = [
  celMethod('split', STRING, [STRING], listType(STRING), function (sep) {
    return goSplitN(this, sep, -1);
  }),
  celMethod('split', STRING, [STRING, INT], listType(STRING), function (sep, n) {
    return goSplitN(this, sep, Number(n));
  }),
  celMethod('replace', STRING, [STRING, STRING], STRING, function (old, replacement) {
    return goReplace(this, old, replacement, -1);
  }),
  celMethod('replace', STRING, [STRING, STRING, INT], STRING, function (old, replacement, n) {
    return goReplace(this, old, replacement, Number(n));
  }),
];

/** every function beyond CEL's standard library that the runtime offers */
export const KUBERNETES_CEL_FUNCS: readonly CelFunc[] = [
  ...strings.filter((f) => f.name !== 'split' && f.name !== 'replace'),
  ...goStrings,
  ...listFuncs,
  ...regexFuncs,
  ...quantityFuncs,
  ...optionalFuncs,
];

const ENV = celEnv({ funcs: [...KUBERNETES_CEL_FUNCS] });

export type CelProgram = (bindings: Record<string, CelValue>) => CelValue;

/** Thrown by `compileCel` for an expression that does not parse */
export class CelCompileError extends Error {}

/** Thrown by a program for an evaluation error (no such key, no matching overload, …) */
export class CelEvalError extends Error {}

/** Parses and plans an expression; throws CelCompileError naming the problem */
export function compileCel(expression: string): CelProgram {
  let planned: ReturnType<typeof plan>;
  try {
    planned = plan(ENV, parse(rewriteOptionals(expression)));
  } catch (e) {
    throw new CelCompileError(`compilation failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  return (bindings) => {
    let r: ReturnType<typeof planned>;
    try {
      r = planned(bindings);
    } catch (e) {
      throw new CelEvalError(e instanceof Error ? e.message : String(e));
    }
    if (isCelError(r)) throw new CelEvalError(r.message);
    return r;
  };
}

/** A JSON value (object, array, scalars) as CEL sees a Kubernetes object: integers are int,
 * other numbers double, JSON null fields absent (as a typed decode drops them). */
export function toCelValue(v: unknown): CelValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint') return v;
  if (Array.isArray(v)) return celList(v.map((x) => toCelValue(x)));
  if (typeof v === 'object') {
    const m = new Map<string, CelValue>();
    for (const [k, x] of Object.entries(v as Record<string, unknown>))
      if (x !== null && x !== undefined) m.set(k, toCelValue(x));
    return celMap(m);
  }
  throw new Error(`unsupported value of type ${typeof v}`);
}

/** A CEL value back as plain JSON-ish JavaScript (for results and tests) */
export function fromCelValue(v: CelValue | undefined): unknown {
  if (v === undefined || v === null) return null;
  const q = asQuantity(v);
  if (q) return { quantity: quantityKey(q) };
  if (isOptional(v)) {
    const inner = optionalValue(v);
    return inner === undefined ? { optional: null } : { optional: fromCelValue(inner) };
  }
  if (isCelList(v)) return [...v].map((x) => fromCelValue(x));
  if (isCelMap(v)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) o[String(k)] = fromCelValue(x);
    return o;
  }
  if (isCelUint(v)) return v.value;
  return v;
}

/** CEL's reserved words: not usable as identifiers, and escaped as `__<word>__` in Kubernetes' field names. */
export const CEL_RESERVED = new Set([
  'true',
  'false',
  'null',
  'in',
  'as',
  'break',
  'const',
  'continue',
  'else',
  'for',
  'function',
  'if',
  'import',
  'let',
  'loop',
  'package',
  'namespace',
  'return',
  'var',
  'void',
  'while',
]);
