/**
 * Kubernetes resource.Quantity, exactly as k8s.io/apimachinery parses and compares it:
 * `<sign><digits>[.<digits>]<suffix>` with the binary SI suffixes (Ki … Ei), the decimal SI
 * suffixes (n u m "" k M G T P E) or a decimal exponent (e3, E-2); the value is exact, rounded
 * up (away from zero) to a nano and capped at 2^63-1 in magnitude, as ParseQuantity does.
 * A value is kept as `units / 10^9` (an exact bigint count of nanos).
 */
export interface Quantity {
  /** the value in nano units, exact */
  readonly nanos: bigint;
}

const NANO = 1_000_000_000n;
const MAX = (1n << 63n) - 1n;
const BINARY: Readonly<Record<string, bigint>> = {
  Ki: 10n,
  Mi: 20n,
  Gi: 30n,
  Ti: 40n,
  Pi: 50n,
  Ei: 60n,
};
const DECIMAL: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const SUFFIX_CHARS = 'eEinumkKMGTP';

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** Parses a quantity string; throws an Error naming what is wrong, as ParseQuantity's errors do. */
export function parseQuantity(input: string): Quantity {
  const str = input;
  if (str.length === 0) throw new Error('quantities must match the regular expression (empty string)');
  const wrong = new Error(
    `quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': ${JSON.stringify(input)}`,
  );
  let pos = 0;
  let positive = true;
  if (str[0] === '-') {
    positive = false;
    pos++;
  } else if (str[0] === '+') pos++;
  while (str[pos] === '0') pos++;
  if (pos >= str.length) return { nanos: 0n };
  const numStart = pos;
  while (isDigit(str[pos])) pos++;
  const num = str.slice(numStart, pos) || '0';
  let denom = '';
  if (str[pos] === '.') {
    pos++;
    const denomStart = pos;
    while (isDigit(str[pos])) pos++;
    denom = str.slice(denomStart, pos);
  }
  const suffixStart = pos;
  while (pos < str.length && SUFFIX_CHARS.includes(str[pos] as string)) pos++;
  if (str[pos] === '-' || str[pos] === '+') pos++;
  while (isDigit(str[pos])) pos++;
  if (pos < str.length) throw wrong;
  const suffix = str.slice(suffixStart);

  // value = (num.denom) * base^exponent, exact, as a fraction numerator / 10^scale
  let numerator = BigInt(num + denom);
  let scale = BigInt(denom.length); // value = numerator / 10^scale
  const binary = BINARY[suffix];
  const decimal = DECIMAL[suffix];
  if (binary !== undefined) {
    numerator <<= binary;
  } else if (decimal !== undefined) {
    scale -= BigInt(decimal);
  } else if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E')) {
    const digits = suffix.slice(1);
    if (!/^[-+]?[0-9]+$/.test(digits)) throw wrong;
    const exp = Number(digits);
    if (!Number.isSafeInteger(exp) || exp > 2147483647 || exp < -2147483648) throw wrong;
    if (numerator === 0n) return { nanos: 0n };
    // beyond these bounds the cap (upper) or the round-up to one nano (lower) decides
    const magnitude = exp - Number(scale) + numerator.toString().length;
    if (magnitude > 40) return { nanos: positive ? MAX * NANO : -MAX * NANO };
    if (magnitude < -10) return { nanos: positive ? 1n : -1n };
    scale -= BigInt(exp);
  } else {
    throw new Error(`unable to parse quantity's suffix: ${JSON.stringify(input)}`);
  }
  // to nanos, rounding up in magnitude (inf.RoundUp on the absolute value)
  let nanos: bigint;
  const shift = 9n - scale;
  if (shift >= 0n) nanos = numerator * 10n ** shift;
  else {
    const div = 10n ** -shift;
    nanos = numerator / div + (numerator % div === 0n ? 0n : 1n);
  }
  if (nanos > MAX * NANO) nanos = MAX * NANO;
  return { nanos: positive ? nanos : -nanos };
}

export function isQuantity(input: string): boolean {
  try {
    parseQuantity(input);
    return true;
  } catch {
    return false;
  }
}

export function compareQuantity(a: Quantity, b: Quantity): -1 | 0 | 1 {
  return a.nanos < b.nanos ? -1 : a.nanos > b.nanos ? 1 : 0;
}

export function quantitySign(q: Quantity): bigint {
  return q.nanos < 0n ? -1n : q.nanos > 0n ? 1n : 0n;
}

const INT64_MIN = -(1n << 63n);

/** Quantity.AsInt64: the integer value when exact and within int64, else undefined */
export function quantityAsInt64(q: Quantity): bigint | undefined {
  if (q.nanos % NANO !== 0n) return undefined;
  const v = q.nanos / NANO;
  return v > MAX || v < INT64_MIN ? undefined : v;
}

export function quantityAsApproximateFloat(q: Quantity): number {
  const whole = q.nanos / NANO;
  const frac = q.nanos % NANO;
  return Number(whole) + Number(frac) / 1e9;
}

/** A canonical exact text of the value (for equality), e.g. "1.5", "-0.000000001", "1024" */
export function quantityKey(q: Quantity): string {
  const neg = q.nanos < 0n;
  const abs = neg ? -q.nanos : q.nanos;
  const whole = abs / NANO;
  const frac = (abs % NANO).toString().padStart(9, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? '.' + frac : ''}`;
}
