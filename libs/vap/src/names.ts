// Object names and label values: DNS-subdomain-safe, deterministic, bounded.
import { createHash } from 'node:crypto';
import type { BundlePolicy } from '@portcullis/bundle';

const short = (text: string, n: number): string => createHash('sha256').update(text).digest('hex').slice(0, n);

/** The policy's name as a DNS label: lowercase letters, digits and single dashes, at most 40 characters. */
function slug(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return s === '' ? 'policy' : s;
}

/**
 * `portcullis.<policy-slug>-<8 hex of the policy id>.<rule-id>`: the slug keeps it readable,
 * the hash of the id keeps two policies with similar names apart and the name stable across
 * renames' slugs of equal text. At most 11 + 49 + 1 + 63 = 124 characters.
 */
export function objectName(policy: Pick<BundlePolicy, 'id' | 'name'>, ruleId: string): string {
  return `portcullis.${slug(policy.name)}-${short(policy.id, 8)}.${ruleId}`;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** A label value for `text`: itself when valid (UUIDs are), else a 40-hex hash of it. */
export function labelValue(text: string): string {
  return text.length <= 63 && LABEL_VALUE.test(text) ? text : short(text, 40);
}
