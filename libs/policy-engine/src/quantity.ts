/**
 * Kubernetes resource quantities (k8s.io/apimachinery resource.Quantity): a signed
 * decimal number with an optional binary (Ki..Ei) or decimal (n, u, m, k, M..E) suffix
 * or an exponent ("1e3"). Returns the value in base units, or undefined when the
 * string is not a quantity.
 */
/** Decimal suffixes as powers of ten (divided, not multiplied, below one: "100u" is exactly 0.0001). */
const DECIMAL_EXPONENT: Readonly<Record<string, number>> = {
  '': 0,
  n: -9,
  u: -6,
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const BINARY: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$/;

// manifests repeat a handful of limits ("500m", "256Mi"): parse each once (bounded, reset when full)
const PARSED = new Map<string, number | undefined>();
const PARSED_MAX = 4096;

export function parseQuantity(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  if (PARSED.has(value)) return PARSED.get(value);
  const parsed = parse(value);
  if (PARSED.size >= PARSED_MAX) PARSED.clear();
  PARSED.set(value, parsed);
  return parsed;
}

function parse(value: string): number | undefined {
  if (value.length > 64) return undefined;
  const m = QUANTITY.exec(value);
  if (!m) return undefined;
  const base = Number(m[1]);
  const suffix = m[3] ?? '';
  const exponent = m[2] ? Number(m[2].slice(1)) : DECIMAL_EXPONENT[suffix];
  const result =
    exponent === undefined ? base * BINARY[suffix]! : exponent >= 0 ? base * 10 ** exponent : base / 10 ** -exponent;
  return Number.isFinite(result) ? result : undefined;
}
