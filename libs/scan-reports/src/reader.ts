/**
 * Reading untrusted JSON with the path of every field, so a refusal names exactly
 * what is wrong (`matches[12].artifact.version: is not a string`).
 */
export class MalformedReport extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'MalformedReport';
  }
}

export type Json = Readonly<Record<string, unknown>>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export const at = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;

export function object(v: unknown, path: string): Json {
  if (!isObject(v)) throw new MalformedReport(path, `is ${describe(v)}, not an object`);
  return v;
}

/** An object, or nothing when the field is absent or null. */
export function optionalObject(v: unknown, path: string): Json | undefined {
  return v === undefined || v === null ? undefined : object(v, path);
}

/** An array; absent or null reads as empty (scanners omit empty lists). */
export function list(v: unknown, path: string): readonly unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new MalformedReport(path, `is ${describe(v)}, not an array`);
  return v;
}

/** A string; absent or null reads as undefined. */
export function optionalString(v: unknown, path: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new MalformedReport(path, `is ${describe(v)}, not a string`);
  return v;
}

export function requiredString(v: unknown, path: string, max: number): string {
  const s = optionalString(v, path);
  if (s === undefined || s.trim() === '') throw new MalformedReport(path, 'is missing or empty');
  if (s.length > max) throw new MalformedReport(path, `is longer than ${max} characters`);
  return s;
}

/** A finite number, or undefined when absent, null or not a number in range (scores are evidence, not identity). */
export function score(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 10 ? v : undefined;
}

/** Strings of a string list; other entries are skipped. */
export function strings(v: unknown, path: string): string[] {
  return list(v, path).filter((s): s is string => typeof s === 'string' && s !== '');
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
