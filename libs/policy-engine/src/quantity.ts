/**
 * Kubernetes resource quantities (k8s.io/apimachinery resource.Quantity): a signed
 * decimal number with an optional binary (Ki..Ei) or decimal (n, u, m, k, M..E) suffix
 * or an exponent ("1e3"). Returns the value in base units, or undefined when the
 * string is not a quantity.
 */
const SUFFIX: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
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
  const result = m[2] ? base * 10 ** Number(m[2].slice(1)) : base * SUFFIX[m[3] ?? '']!;
  return Number.isFinite(result) ? result : undefined;
}
