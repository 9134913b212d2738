// Building blocks of the CEL the compiler emits: literals, RE2 patterns built from
// admins' globs (anchored, linear-time in kube-apiserver), field presence and bindings.
// Everything here produces CEL source text; nothing is evaluated in this process.

/** A CEL string literal (double-quoted, escapes for quote, backslash and control characters). */
export function str(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** A CEL list literal of strings. */
export const strList = (values: readonly string[]): string => `[${values.map(str).join(', ')}]`;

/** A CEL list literal of integers. */
export const intList = (values: readonly number[]): string =>
  `[${values.map((v) => String(Math.trunc(v))).join(', ')}]`;

/** One character as an RE2 literal: letters, digits and `_` as themselves, anything else escaped. */
function re2Char(ch: string): string {
  if (/^[A-Za-z0-9_]$/.test(ch)) return ch;
  const code = ch.codePointAt(0)!;
  // RE2 takes `\` before any ASCII punctuation as that character; the rest by code point
  if (code > 0x20 && code < 0x7f) return `\\${ch}`;
  return `\\x{${code.toString(16)}}`;
}

/** A literal as RE2 (no metacharacter left unescaped). */
export const re2Literal = (text: string): string => Array.from(text, re2Char).join('');

/**
 * An anchored glob as RE2, as the engine's matcher reads it: `*` any run of characters
 * (newlines too, hence `(?s)`), `?` exactly one character unless `questionMark` is false.
 */
export function globToRe2(pattern: string, questionMark = true): string {
  let out = '';
  for (const ch of pattern) {
    if (ch === '*') out += '.*';
    else if (ch === '?' && questionMark) out += '.';
    else out += re2Char(ch);
  }
  return `(?s)^${out}$`;
}

/** `has()` for every step of a dotted path below `base`: `has(b.x) && has(b.x.y)`. */
export function present(base: string, path: string): string {
  const parts = path.split('.');
  const checks: string[] = [];
  let at = base;
  for (const p of parts) {
    at = `${at}.${p}`;
    checks.push(`has(${at})`);
  }
  return checks.join(' && ');
}

/** `base.path` holds `pred(value)`; false when any step is absent. */
export const fieldIs = (base: string, path: string, pred: (v: string) => string): string =>
  `(${present(base, path)} && ${pred(`${base}.${path}`)})`;

/**
 * The effective value of a setting that a container may override (container first, then
 * pod), tested with `pred`; false when neither sets it.
 */
export const effective = (c: string, pod: string, path: string, pred: (v: string) => string): string =>
  `(${present(c, path)} ? ${pred(`${c}.${path}`)} : ${fieldIs(pod, path, pred)})`;

/**
 * Binds `value` to `name` for `body` (CEL has no let in Kubernetes before cel.bind; a
 * one-element list's map is the portable form). The result is `body`'s value.
 */
export const bind = (name: string, value: string, body: string): string => `[${value}].map(${name}, ${body})[0]`;

/** Binds for a boolean `body`: `[value].exists(name, body)`. */
export const bindBool = (name: string, value: string, body: string): string => `[${value}].exists(${name}, ${body})`;

export const or = (terms: readonly string[]): string =>
  terms.length === 0 ? 'false' : terms.length === 1 ? terms[0]! : `(${terms.join(' || ')})`;
export const and = (terms: readonly string[]): string =>
  terms.length === 0 ? 'true' : terms.length === 1 ? terms[0]! : `(${terms.join(' && ')})`;
