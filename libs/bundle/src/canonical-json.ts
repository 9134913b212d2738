/**
 * Canonical JSON (RFC 8785 / JCS): object keys sorted by UTF-16 code units, no
 * whitespace, numbers in ECMAScript shortest form, strings escaped as JSON.stringify
 * does. The same document always yields the same bytes, so signatures and content
 * hashes are stable across processes and languages.
 */
export class CanonicalJsonError extends Error {}

export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

function write(value: unknown, path: string): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${path}: ${value} is not representable in JSON`);
      return Object.is(value, -0) ? '0' : JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return `[${value.map((v, i) => write(v, `${path}[${i}]`)).join(',')}]`;
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new CanonicalJsonError(`${path}: only plain objects are canonical JSON`);
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${write(v, `${path}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new CanonicalJsonError(`${path}: a ${typeof value} is not JSON`);
  }
}
