import { z } from 'zod';
import type { BundleDocument, BundlePolicy } from '@portcullis/bundle';
import {
  MAX_NAMESPACE_PATTERN_LENGTH,
  MAX_PATTERNS_PER_LIST,
  MAX_PATTERN_LENGTH,
  compileGlob,
  compilePolicies,
  type CompiledPolicy,
  type Exemption,
  type Matcher,
  type Policy,
} from '@portcullis/policy-engine';

/** A verified bundle turned into what the webhook runs: compiled once per revision. */
export interface EnforceableBundle {
  readonly document: BundleDocument;
  readonly compiled: readonly CompiledPolicy[];
  /** Some policy gates on vulnerabilities: admissions need scan-artifact lookups. */
  readonly hasVulnerabilityPolicies: boolean;
  readonly expiresAtMs: number;
  /** The bundle's own namespace exclusions (agentSettings), as anchored globs. */
  readonly excluded: readonly Matcher[];
  /** Exemption id -> its reason, recorded with each finding the exemption covers. */
  readonly exemptionReasons: ReadonlyMap<string, string>;
}

const strings = z.array(z.string().max(512)).max(1000).optional();
// signed by the API, which accepts no more; bounded here too, so matching one admission stays cheap whatever a bundle holds
const patterns = (maxLength: number) => z.array(z.string().max(maxLength)).max(MAX_PATTERNS_PER_LIST).optional();

/** Exemptions travel as engine vocabulary in JSON; this is that vocabulary, checked before it is trusted. */
const ExemptionSchema = z.object({
  id: z.string().min(1).max(128),
  namespaces: patterns(MAX_NAMESPACE_PATTERN_LENGTH),
  kinds: strings,
  names: patterns(MAX_PATTERN_LENGTH),
  images: patterns(MAX_PATTERN_LENGTH),
  labelSelector: z.record(z.string()).nullable().optional(),
  cves: strings,
  rules: strings,
  match: z.enum(['EQUALS', 'PREFIX', 'SUFFIX', 'CONTAINS', 'GLOB']),
  reason: z.string().max(1000),
  grantedBy: z.string().max(512),
  expiresAt: z.string().datetime({ offset: true }).nullable().optional(),
});

function toPolicy(p: BundlePolicy, index: number): Policy {
  const exemptions = p.exemptions.map((raw, j): Exemption => {
    const r = ExemptionSchema.safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new Error(`policies[${index}] ("${p.name}").exemptions[${j}].${issue.path.join('.')}: ${issue.message}`);
    }
    return r.data as Exemption;
  });
  return {
    id: p.id,
    name: p.name,
    type: p.type,
    action: p.action,
    namespaces: p.namespaces,
    rules: p.rules.map((r) => ({ id: r.id, params: { ...r.params } })),
    exemptions,
  };
}

/**
 * Compiles a verified bundle. Throws, naming the policy, when the bundle holds
 * something this agent's engine cannot enforce (an unknown rule, bad parameters):
 * the agent then keeps what it enforces and reports the error.
 */
export function toEnforceable(document: BundleDocument): EnforceableBundle {
  const policies = document.policies.map(toPolicy);
  const exemptionReasons = new Map<string, string>();
  for (const p of policies) for (const e of p.exemptions) exemptionReasons.set(e.id, e.reason);
  return {
    document,
    compiled: compilePolicies(policies),
    hasVulnerabilityPolicies: policies.some((p) => p.type === 'VULNERABILITY' && p.rules.length > 0),
    expiresAtMs: Date.parse(document.expiresAt),
    excluded: (document.agentSettings.excludedNamespaces ?? []).map((p) => compileGlob(p)),
    exemptionReasons,
  };
}
