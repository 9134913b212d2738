/**
 * Canonical JSON (RFC 8785 / JCS): object keys sorted by UTF-16 code units, no
 * whitespace, numbers in ECMAScript shortest form, strings escaped as JSON.stringify
 * does. The same document always yields the same bytes, so signatures and content
 * hashes are stable across processes and languages.
 *
 * Decisions beyond the RFC, for TypeScript callers:
 * - an object property whose value is `undefined` is absent (as with optional
 *   properties and JSON.stringify); `undefined` anywhere else (top level, array
 *   element, sparse-array hole) is an error;
 * - a Date is its ISO-8601 string (what JSON.stringify would write);
 * - anything else that is not plain JSON (functions, symbols, bigints, class
 *   instances, Maps, cycles, NaN/Infinity, lone UTF-16 surrogates) is an error
 *   naming the path, never silently dropped or coerced.
 */
export class CanonicalJsonError extends Error {
  constructor(
    /** Where the offending value is, e.g. `$.policies[2].rules`. */
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'CanonicalJsonError';
  }
}

// In unicode mode a surrogate class only matches unpaired surrogates; I-JSON (RFC 7493) forbids them.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * A value already written as canonical JSON, embedded verbatim wherever it appears in
 * a document. It can only be made by serialising a value, so its text is canonical by
 * construction; it lets a part shared by thousands of documents (the policies of a
 * tenant's bundles) be serialised once instead of once per document.
 */
export class CanonicalFragment {
  private constructor(readonly json: string) {}

  static of(value: unknown): CanonicalFragment {
    return new CanonicalFragment(canonicalJson(value));
  }
}

export function canonicalJson(value: unknown): string {
  const writer = new CanonicalWriter();
  writer.write(value);
  return writer.out;
}

type PathPart = string | number;

class CanonicalWriter {
  out = '';
  // kept as parts and only joined on error: building path strings per value would dominate the cost
  private readonly path: PathPart[] = [];
  private readonly ancestors = new Set<object>();

  write(value: unknown): void {
    switch (typeof value) {
      case 'string':
        this.string(value);
        return;
      case 'boolean':
        this.out += value ? 'true' : 'false';
        return;
      case 'number':
        if (!Number.isFinite(value)) this.fail(`${String(value)} is not representable in JSON`);
        // JSON.stringify writes Number.prototype.toString's shortest round-trip form, and -0 as 0
        this.out += JSON.stringify(value);
        return;
      case 'object':
        if (value === null) this.out += 'null';
        else if (Array.isArray(value)) this.array(value);
        else if (value instanceof Date) this.date(value);
        else if (value instanceof CanonicalFragment) this.out += value.json;
        else this.object(value);
        return;
      case 'undefined':
        this.fail('undefined is not JSON');
        return;
      default:
        this.fail(`a ${typeof value} is not JSON`);
    }
  }

  private string(s: string): void {
    if (LONE_SURROGATE.test(s)) this.fail('the string contains an unpaired UTF-16 surrogate');
    this.out += JSON.stringify(s);
  }

  private date(d: Date): void {
    if (Number.isNaN(d.getTime())) this.fail('an invalid Date is not JSON');
    this.out += `"${d.toISOString()}"`;
  }

  private array(a: readonly unknown[]): void {
    this.enter(a);
    this.out += '[';
    for (let i = 0; i < a.length; i++) {
      if (i > 0) this.out += ',';
      this.path.push(i);
      if (!(i in a)) this.fail('a sparse-array hole is not JSON');
      this.write(a[i]);
      this.path.pop();
    }
    this.out += ']';
    this.ancestors.delete(a);
  }

  private object(o: object): void {
    const proto = Object.getPrototypeOf(o) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      this.fail(
        `a ${(o as { constructor?: { name?: string } }).constructor?.name ?? 'non-plain'} object is not JSON; pass plain objects`,
      );
    }
    this.enter(o);
    const record = o as Record<string, unknown>;
    // default sort compares UTF-16 code units, which is exactly JCS's key order
    const keys = Object.keys(record).sort();
    this.out += '{';
    let first = true;
    for (const k of keys) {
      const v = record[k];
      if (v === undefined) continue;
      this.path.push(k);
      if (LONE_SURROGATE.test(k)) this.fail('the key contains an unpaired UTF-16 surrogate');
      this.out += `${first ? '' : ','}${JSON.stringify(k)}:`;
      first = false;
      this.write(v);
      this.path.pop();
    }
    this.out += '}';
    this.ancestors.delete(o);
  }

  private enter(container: object): void {
    if (this.ancestors.has(container)) this.fail('the value contains itself (a cycle)');
    this.ancestors.add(container);
  }

  private fail(problem: string): never {
    const path = this.path.reduce<string>(
      (acc, p) =>
        typeof p === 'number'
          ? `${acc}[${p}]`
          : /^[A-Za-z_$][\w$]*$/.test(p)
            ? `${acc}.${p}`
            : `${acc}[${JSON.stringify(p)}]`,
      '$',
    );
    throw new CanonicalJsonError(path, problem);
  }
}
