import { randomInt, randomUUID } from 'node:crypto';

/** Kubernetes' alphabet for generated names and hashes: no vowels, no 0/1/3 (no words, no look-alikes). */
const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** The random part of what kube-apiserver generates: names from generateName, uids. A port, so tests can fix it. */
export interface NameSource {
  /** 5 characters of Kubernetes' alphabet, as names.SimpleNameGenerator appends to generateName. */
  suffix(): string;
  uid(): string;
}

export const randomNames: NameSource = {
  suffix: () => Array.from({ length: 5 }, () => ALPHANUMS[randomInt(ALPHANUMS.length)]).join(''),
  uid: () => randomUUID(),
};

/** A deterministic NameSource: the same sequence on every run (tests, reproducible demos). */
export function seededNames(seed: number): NameSource {
  let state = seed >>> 0 || 1;
  const next = () => {
    // xorshift32: cheap and reproducible; these names need no unpredictability
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
  const hex = (n: number) => Array.from({ length: n }, () => (next() % 16).toString(16)).join('');
  return {
    suffix: () => Array.from({ length: 5 }, () => ALPHANUMS[next() % ALPHANUMS.length]).join(''),
    uid: () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`,
  };
}

/** JSON with object keys sorted: the same template always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * pod-template-hash / controller-revision-hash: FNV-32a of the pod template, its decimal
 * digits mapped onto the name alphabet (controller.ComputeHash and rand.SafeEncodeString).
 * Kubernetes hashes Go's printed struct, so the digits differ from a real cluster's; what
 * matters holds: the same template gives the same hash, a changed one a new hash.
 */
export function templateHash(template: unknown): string {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(canonical(template), 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return [...String(h)].map((c) => ALPHANUMS[c.charCodeAt(0) % ALPHANUMS.length]).join('');
}
