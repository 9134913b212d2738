import YAML from 'yaml';
import { findRule } from '../rules/catalog';
import type { RuleConfig } from '../types';
import type { Exemption, Policy } from './model';
import { POLICY_API_VERSION } from './policy-file';

/**
 * Writes policies in the policy-file format (the API's export), keys in a fixed
 * order so exports diff cleanly. parsePolicyDocuments(serializePolicyDocuments(p))
 * gives p back for every policy the parser produces.
 */
export function serializePolicyDocuments(policies: readonly Policy[]): string {
  return joinPolicyDocuments(policies.map(serializePolicyDocument));
}

/**
 * One policy's document; joinPolicyDocuments of each policy's gives serializePolicyDocuments'
 * text, so a caller can render a long list piece by piece and yield in between.
 */
export function serializePolicyDocument(p: Policy): string {
  return YAML.stringify(policyDocument(p), { lineWidth: 0 });
}

export function joinPolicyDocuments(documents: readonly string[]): string {
  return documents.join('---\n');
}

function policyDocument(p: Policy): Record<string, unknown> {
  return {
    apiVersion: POLICY_API_VERSION,
    kind: 'Policy',
    metadata: {
      name: p.name,
      ...(p.id !== p.name ? { id: p.id } : {}),
      ...(p.description ? { description: p.description } : {}),
    },
    spec: {
      type: p.type,
      action: p.action,
      scope: {
        ...(p.cloudScopes?.length ? { cloudScopes: [...p.cloudScopes] } : {}),
        ...(p.clusters?.length ? { clusters: [...p.clusters] } : {}),
        namespaces: { include: [...p.namespaces.include], exclude: [...p.namespaces.exclude] },
      },
      rules: p.rules.map((r) => {
        const params = nonDefault(r);
        return { id: r.id, ...(Object.keys(params).length ? { params } : {}) };
      }),
      ...(p.exemptions.length ? { exemptions: p.exemptions.map(exemptionEntry) } : {}),
    },
  };
}

function exemptionEntry(e: Exemption): Record<string, unknown> {
  const list = (key: string, v: readonly string[] | undefined) => (v?.length ? { [key]: [...v] } : {});
  return {
    id: e.id,
    ...list('namespaces', e.namespaces),
    ...list('kinds', e.kinds),
    ...list('names', e.names),
    ...list('images', e.images),
    ...(e.labelSelector && Object.keys(e.labelSelector).length
      ? { labelSelector: { matchLabels: { ...e.labelSelector } } }
      : {}),
    ...list('cves', e.cves),
    ...list('rules', e.rules),
    match: e.match,
    reason: e.reason,
    grantedBy: e.grantedBy,
    ...(e.expiresAt ? { expiresAt: e.expiresAt } : {}),
  };
}

/** Parameters that differ from the rule's defaults, in schema order: policy files stay short. */
function nonDefault(rule: RuleConfig): Record<string, unknown> {
  const schema = (findRule(rule.id)?.parameters.properties ?? {}) as Record<string, { default?: unknown }>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rule.params)) {
    if (JSON.stringify(v) !== JSON.stringify(schema[k]?.default ?? null)) out[k] = v;
  }
  return out;
}
