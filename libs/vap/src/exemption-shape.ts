// The bundle carries exemptions as engine JSON; the compiler reads only what it can trust.
import { MATCH_MODES, type Exemption, type MatchMode } from '@portcullis/policy-engine';

export type ParsedExemption =
  | { readonly ok: true; readonly exemption: Exemption }
  | { readonly ok: false; readonly reason: string; readonly rules?: readonly string[] };

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

export function parseExemption(raw: Readonly<Record<string, unknown>>): ParsedExemption {
  const rules = isStringList(raw['rules']) ? raw['rules'] : undefined;
  const fail = (reason: string): ParsedExemption => ({ ok: false, reason, ...(rules ? { rules } : {}) });
  const match = raw['match'] ?? 'EQUALS';
  if (typeof match !== 'string' || !MATCH_MODES.includes(match as MatchMode))
    return fail(`match must be one of ${MATCH_MODES.join(', ')}`);
  for (const key of ['namespaces', 'kinds', 'names', 'images', 'cves', 'rules'] as const) {
    const v = raw[key];
    if (v !== undefined && v !== null && !isStringList(v)) return fail(`${key} must be a list of strings`);
  }
  const selector = raw['labelSelector'];
  if (selector !== undefined && selector !== null) {
    if (typeof selector !== 'object' || Array.isArray(selector))
      return fail('labelSelector must map label keys to values');
    if (!Object.values(selector).every((v) => typeof v === 'string'))
      return fail('labelSelector must map label keys to string values');
  }
  const expiresAt = raw['expiresAt'];
  if (expiresAt !== undefined && expiresAt !== null && typeof expiresAt !== 'string')
    return fail('expiresAt must be an ISO 8601 timestamp');
  const list = (k: string): string[] | undefined => (isStringList(raw[k]) ? (raw[k] as string[]) : undefined);
  return {
    ok: true,
    exemption: {
      id: typeof raw['id'] === 'string' ? raw['id'] : '',
      namespaces: list('namespaces'),
      kinds: list('kinds'),
      names: list('names'),
      images: list('images'),
      cves: list('cves'),
      rules: list('rules'),
      labelSelector: (selector as Record<string, string> | null | undefined) ?? null,
      match: match as MatchMode,
      reason: typeof raw['reason'] === 'string' ? raw['reason'] : '',
      grantedBy: typeof raw['grantedBy'] === 'string' ? raw['grantedBy'] : '',
      expiresAt: (expiresAt as string | null | undefined) ?? null,
    },
  };
}
