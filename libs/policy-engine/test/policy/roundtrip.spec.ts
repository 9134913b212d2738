import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  MATCH_MODES,
  RULE_CATALOG,
  joinPolicyDocuments,
  parsePolicyDocuments,
  serializePolicyDocument,
  serializePolicyDocuments,
  validateRuleParams,
  type Exemption,
  type Policy,
  type PolicyType,
  type RuleConfig,
} from '@portcullis/policy-engine';

/** A rule with its defaults, some parameters changed to other valid values. */
const OVERRIDES: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
  'resource-limits': fc.record({
    maxMemoryLimit: fc.constantFrom(null, '512Mi', '4Gi'),
    requireCpuLimit: fc.boolean(),
  }),
  'trusted-registries': fc.record({
    allowedImages: fc.array(fc.constantFrom('mcr.microsoft.com/', 'docker.io/library/*', 'ghcr.io/acme/'), {
      maxLength: 3,
    }),
  }),
  'vulnerability-severity': fc.record({
    maxCritical: fc.nat(5),
    maxHigh: fc.option(fc.nat(50)),
    onlyFixable: fc.boolean(),
  }),
  'host-namespaces': fc.record({ allowHostNetwork: fc.boolean() }),
};

function ruleArb(type: PolicyType): fc.Arbitrary<RuleConfig[]> {
  const ids = RULE_CATALOG.filter((r) => r.policyType === type).map((r) => r.id);
  return fc.subarray(ids).chain((chosen) =>
    fc.tuple(
      ...chosen.map((id) =>
        (OVERRIDES[id] ?? fc.constant({})).map((params) => {
          const v = validateRuleParams(id, params);
          assert.ok(v.ok, JSON.stringify(v));
          return { id, params: v.params };
        }),
      ),
    ),
  );
}

// built from parts rather than fc.stringMatching, which is slow
const word = fc
  .tuple(fc.constantFrom('web', 'prod', 'team-a', 'payments', 'x'), fc.nat(99))
  .map(([w, n]) => `${w}${n}`);
const list = (arb: fc.Arbitrary<string>) => fc.array(arb, { maxLength: 3 });

function exemptionArb(type: PolicyType, i: number): fc.Arbitrary<Exemption> {
  return fc
    .record({
      namespaces: list(word),
      kinds: list(fc.constantFrom('Deployment', 'DaemonSet', 'Pod')),
      names: list(word),
      images: list(fc.constantFrom('quay.io', 'docker.io/library/nginx', 'sha256:' + 'a'.repeat(64))),
      labelSelector: fc.option(
        fc.dictionary(word, word, { minKeys: 1, maxKeys: 2 }).map((d) => ({ ...d })),
        { nil: null },
      ),
      cves:
        type === 'VULNERABILITY'
          ? list(fc.constantFrom('CVE-2024-3094', 'CVE-2023-44487', 'GHSA-xxxx-yyyy-zzzz'))
          : fc.constant([]),
      match: fc.constantFrom(...MATCH_MODES),
      reason: fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim() !== ''),
      grantedBy: fc.constantFrom('alice@contoso.com', '7f9c2a3e-1111-4a6b-9c1d-2f3e4a5b6c7d'),
      expiresAt: fc.option(
        fc
          .date({ min: new Date('2020-01-01'), max: new Date('2035-01-01'), noInvalidDate: true })
          .map((d) => d.toISOString()),
        { nil: null },
      ),
    })
    .map((e) => ({
      id: `exemption-${i}`,
      rules: [],
      ...e,
      namespaces: e.namespaces.length || e.labelSelector || e.names.length ? e.namespaces : ['prod'],
    }));
}

const policyArb: fc.Arbitrary<Policy> = fc.constantFrom<PolicyType>('MISCONFIGURATION', 'VULNERABILITY').chain((type) =>
  fc
    .record({
      id: fc.tuple(fc.constantFrom('pol_', 'p-', 'a'), fc.nat(9999)).map(([w, n]) => `${w}${n}`),
      name: fc
        .tuple(fc.constantFrom('Default K8s misconfiguration rule', 'restricted-prod', 'team.web_v2'), fc.nat(99))
        .map(([w, n]) => `${w} ${n}`),
      description: fc.option(fc.string({ minLength: 1, maxLength: 80 }), { nil: undefined }),
      type: fc.constant(type),
      action: fc.constantFrom('AUDIT' as const, 'BLOCK' as const),
      cloudScopes: list(fc.constantFrom('123456789012', 'my-gcp-project')),
      clusters: list(word),
      namespaces: fc.record({
        include: list(fc.constantFrom('*', 'prod-*', 'team-?')),
        exclude: list(fc.constantFrom('kube-system', 'sandbox-*')),
      }),
      rules: ruleArb(type),
      exemptions: fc
        .nat(3)
        .chain((n): fc.Arbitrary<Exemption[]> =>
          n === 0 ? fc.constant([]) : fc.tuple(...Array.from({ length: n }, (_, i) => exemptionArb(type, i))),
        ),
      // plain JSON objects, as parsed files give (fast-check may build null-prototype records)
    })
    .map((p) => JSON.parse(JSON.stringify(p)) as Policy),
);

describe('policy files round-trip', () => {
  it('parse(serialize(p)) equals p for generated policies', () => {
    fc.assert(
      fc.property(
        fc
          .uniqueArray(policyArb, { minLength: 1, maxLength: 3, selector: (p) => p.name })
          .filter((ps) => new Set(ps.map((p) => p.id)).size === ps.length),
        (policies) => {
          const text = serializePolicyDocuments(policies);
          const back = parsePolicyDocuments(text, 'export.yaml');
          assert.ok(back.ok, `${JSON.stringify(back)}\n${text}`);
          assert.deepEqual(back.policies, policies);
          assert.equal(serializePolicyDocuments(back.policies), text, 'serialisation is stable');
          assert.equal(
            joinPolicyDocuments(policies.map(serializePolicyDocument)),
            text,
            'policy by policy (the API renders so, yielding in between) gives the same bytes',
          );
        },
      ),
      { numRuns: 60 },
    );
  });
});
