import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_POLICY_NAMES,
  expandPreset,
  parsePolicyDocuments,
  policyNameProblem,
  serializePolicyDocuments,
  storedPolicyName,
  type PolicyFileResult,
} from '@portcullis/policy-engine';

const errorsOf = (r: PolicyFileResult) =>
  r.ok ? assert.fail(`expected errors, got ${r.policies.length} policies`) : r.errors;
const doc = (spec: string, meta = '{ name: x }') =>
  `apiVersion: portcullis.dev/v1\nkind: Policy\nmetadata: ${meta}\nspec:\n${spec}\n`;

const FILE = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: restricted-prod }
spec:
  type: MISCONFIGURATION
  action: BLOCK
  scope: { cloudScopes: ["aws:123456789012"], namespaces: { include: ["prod-*"], exclude: ["kube-system"] } }
  rules:
    - preset: pss-restricted
    - id: resource-limits
      params: { maxMemoryLimit: 2Gi }
    - id: trusted-registries
      params: { allowedImages: ["mcr.microsoft.com/", "docker.io/library/*"] }
  exemptions:
    - namespaces: [prod-legacy]
      match: EQUALS
      reason: migrating
      grantedBy: alice
      expiresAt: 2027-01-01T00:00:00Z
---
apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: vulns }
spec:
  type: VULNERABILITY
  action: AUDIT
  rules:
    - id: vulnerability-severity
      params: { maxHigh: 5 }
`;

describe('policy files', () => {
  it('parses multi-document YAML with presets expanded and parameters defaulted', () => {
    const r = parsePolicyDocuments(FILE, 'policies.yaml');
    assert.ok(r.ok, JSON.stringify(r));
    const [p, v] = r.policies;
    assert.equal(p!.name, 'restricted-prod');
    assert.deepEqual(p!.namespaces, { include: ['prod-*'], exclude: ['kube-system'] });
    assert.deepEqual(p!.cloudScopes, ['aws:123456789012']);
    assert.equal(p!.rules.length, expandPreset('pss-restricted').length + 2);
    assert.equal(p!.rules.find((x) => x.id === 'resource-limits')!.params['requireCpuLimit'], true);
    assert.equal(p!.exemptions[0]!.expiresAt, '2027-01-01T00:00:00.000Z');
    assert.equal(v!.rules[0]!.params['maxHigh'], 5);
    assert.equal(v!.rules[0]!.params['maxCritical'], 0);
  });
  it('round-trips: parse(serialize(p)) equals p', () => {
    const first = parsePolicyDocuments(FILE, 'a.yaml');
    assert.ok(first.ok);
    const second = parsePolicyDocuments(serializePolicyDocuments(first.policies), 'b.yaml');
    assert.ok(second.ok, JSON.stringify(second));
    assert.deepEqual(second.policies, first.policies);
  });
  it('accepts JSON: an object, an array, or a List', () => {
    const doc = {
      apiVersion: 'portcullis.dev/v1',
      kind: 'Policy',
      metadata: { name: 'j' },
      spec: { type: 'MISCONFIGURATION', action: 'AUDIT' },
    };
    for (const text of [
      JSON.stringify(doc),
      JSON.stringify([doc]),
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [doc] }),
    ]) {
      const r = parsePolicyDocuments(text, 'p.json');
      assert.ok(r.ok, text);
      assert.equal(r.policies[0]!.name, 'j');
    }
  });
  const errors: Array<[string, string, RegExp]> = [
    [
      'kind: Policy\napiVersion: portcullis.dev/v1\nmetadata: { name: x }\nspec: { type: MISCONFIGURATION, action: BLOCK, rules: [{ id: resource-limits, params: { maxMemoryLimit: 4Gb } }] }',
      'spec.rules[0].params.maxMemoryLimit',
      /4Gb" is not a Kubernetes quantity/,
    ],
    [
      'kind: Policy\napiVersion: portcullis.dev/v1\nmetadata: { name: x }\nspec: { type: MISCONFIGURATION, action: BLOCK, rules: [{ id: nope }] }',
      'spec.rules[0].id',
      /unknown rule "nope"/,
    ],
    [
      'kind: Policy\napiVersion: portcullis.dev/v1\nmetadata: { name: x }\nspec: { type: MISCONFIGURATION, action: DENY }',
      'spec.action',
      /AUDIT or BLOCK/,
    ],
    [
      'kind: Policy\napiVersion: portcullis.dev/v1\nmetadata: { name: x }\nspec: { type: MISCONFIGURATION, action: BLOCK, colour: red }',
      'spec.colour',
      /unknown field/,
    ],
    [
      'kind: Policy\napiVersion: portcullis.dev/v2\nmetadata: { name: x }\nspec: { type: MISCONFIGURATION, action: BLOCK }',
      'apiVersion',
      /portcullis.dev\/v1/,
    ],
    [
      'kind: Policy\napiVersion: portcullis.dev/v1\nmetadata: {}\nspec: { type: MISCONFIGURATION, action: BLOCK }',
      'metadata.name',
      /required/,
    ],
    [
      'kind: Policy\napiVersion: portcullis.dev/v1\nmetadata: { name: x }\nspec: { type: MISCONFIGURATION, action: BLOCK, rules: [{ preset: pss-extreme }] }',
      'spec.rules[0].preset',
      /unknown preset/,
    ],
    [
      'kind: Policy\napiVersion: portcullis.dev/v1\nmetadata: { name: x }\nspec: { type: MISCONFIGURATION, action: BLOCK, scope: { namespaces: { include: ["Prod_*"] } } }',
      'spec.scope.namespaces.include[0]',
      /namespace pattern/,
    ],
    [
      'kind: Policy\napiVersion: portcullis.dev/v1\nmetadata: { name: x }\nspec: { type: MISCONFIGURATION, action: BLOCK, exemptions: [{ reason: r, grantedBy: alice }] }',
      'spec.exemptions[0]',
      /at least one/,
    ],
    [
      'kind: Policy\napiVersion: portcullis.dev/v1\nmetadata: { name: x }\nspec: { type: MISCONFIGURATION, action: BLOCK, exemptions: [{ names: [web], reason: r }] }',
      'spec.exemptions[0].grantedBy',
      /who granted/,
    ],
  ];
  for (const [text, field, message] of errors) {
    it(`names ${field}`, () => {
      const r = parsePolicyDocuments(text, 'bad.yaml');
      assert.equal(r.ok, false);
      const e = (
        r as unknown as { errors: Array<{ field: string; message: string; document: number; source: string }> }
      ).errors[0]!;
      assert.equal(e.field, field);
      assert.equal(e.source, 'bad.yaml');
      assert.equal(e.document, 0);
      assert.match(e.message, message);
      assert.match(e.message, /^bad.yaml: document 1: /);
    });
  }
  it("refuses look-alikes of the default policies' names, and keeps the names themselves", () => {
    const named = (name: string) =>
      `kind: Policy\napiVersion: portcullis.dev/v1\nmetadata:\n  name: ${JSON.stringify(name)}\nspec: { type: MISCONFIGURATION, action: AUDIT }\n`;
    for (const name of Object.values(DEFAULT_POLICY_NAMES))
      assert.ok(parsePolicyDocuments(named(name), 'p.yaml').ok, name);
    for (const name of [
      'default k8s misconfiguration rule',
      'Default  K8s misconfiguration rule',
      'Default_K8s-misconfiguration.rule',
      'Defau1t K8s misconfiguration rule',
      'DEFAULT VULNERABILITY GATING RULE',
      'Default vu1nerabi1ity gating ru1e',
    ]) {
      const errors = errorsOf(parsePolicyDocuments(named(name), 'p.yaml'));
      assert.deepEqual(
        errors.map((e) => e.field),
        ['metadata.name'],
        name,
      );
      assert.match(errors[0]!.message, /looks like the default policy/);
    }
    for (const name of [
      '   ',
      'pr\u0430d',
      'bidi\u202Ename',
      'zero\u200Bwidth',
      'bell\u0007',
      'nbsp\u00A0name',
      ' lead',
    ]) {
      assert.deepEqual(
        errorsOf(parsePolicyDocuments(named(name), 'p.yaml')).map((e) => e.field),
        ['metadata.name'],
        JSON.stringify(name),
      );
    }
    assert.equal(policyNameProblem('Default K8s misconfiguration rules'), undefined);
    assert.equal(storedPolicyName('  restricted prod  '), 'restricted prod');
    assert.equal(
      storedPolicyName('\uFEFFprod'),
      '\uFEFFprod',
      'only U+0020 is dropped; other blanks are refused, not hidden',
    );
  });

  it('refuses a file with more documents than the caller reads at once, naming the limit', () => {
    const many = Array.from(
      { length: 5 },
      (_, i) =>
        `kind: Policy\napiVersion: portcullis.dev/v1\nmetadata: { name: p${i} }\nspec: { type: MISCONFIGURATION, action: AUDIT }\n`,
    ).join('---\n');
    assert.ok(parsePolicyDocuments(many, 'p.yaml', { maxDocuments: 5 }).ok);
    const errors = errorsOf(parsePolicyDocuments(many, 'p.yaml', { maxDocuments: 4 }));
    assert.deepEqual(
      errors.map((e) => [e.document, e.field]),
      [[4, '(document)']],
    );
    assert.match(errors[0]!.message, /holds 5 policy documents; at most 4 are read at once/);
  });

  it('names the document and line of a YAML syntax error', () => {
    const r = parsePolicyDocuments(`${FILE}---\nkind: Policy\n  bad: [indent\n`, 'x.yaml');
    assert.equal(r.ok, false);
    assert.match(
      (r as unknown as { errors: Array<{ message: string }> }).errors[0]!.message,
      /^x.yaml: document 3: line \d+/,
    );
  });
  it('names the document and the nested parameter of a bad rule entry', () => {
    const second = doc(
      '  type: MISCONFIGURATION\n  action: BLOCK\n  rules:\n    - id: privileged-container\n    - preset: pss-baseline\n    - id: resource-limits\n      params: { maxMemoryLimit: lots }',
    );
    const errors = errorsOf(
      parsePolicyDocuments(
        `${doc('  type: MISCONFIGURATION\n  action: AUDIT', '{ name: first }')}---\n${second}`,
        'team.yaml',
      ),
    );
    assert.deepEqual(
      errors.map((e) => [e.document, e.field]),
      [[1, 'spec.rules[2].params.maxMemoryLimit']],
    );
    assert.match(
      errors[0]!.message,
      /^team.yaml: document 2: spec.rules\[2\].params.maxMemoryLimit: .*"lots" is not a Kubernetes quantity/,
    );
  });
  it('reports every problem of a document, not only the first', () => {
    const errors = errorsOf(
      parsePolicyDocuments(
        doc(
          '  type: MISCONFIGURATION\n  action: NOW\n  rules: [{ id: vulnerability-severity }]\n  exemptions: [{ cves: [CVE-2024-3094], reason: r, grantedBy: g }]',
        ),
        'p.yaml',
      ),
    );
    assert.deepEqual(errors.map((e) => e.field).sort(), ['spec.action', 'spec.exemptions[0].cves', 'spec.rules[0].id']);
    assert.match(errors.find((e) => e.field === 'spec.rules[0].id')!.message, /belongs to VULNERABILITY policies/);
  });
  it('rules not listed are disabled; an explicit entry overrides the preset, merged over its params', () => {
    const r = parsePolicyDocuments(
      doc(
        '  type: MISCONFIGURATION\n  action: BLOCK\n  rules:\n    - id: capabilities\n      params: { allowedAdd: [NET_BIND_SERVICE, NET_RAW] }\n    - preset: pss-restricted',
      ),
      'p.yaml',
    );
    assert.ok(r.ok, JSON.stringify(r));
    const ids = r.policies[0]!.rules.map((x) => x.id);
    assert.deepEqual(
      [...ids].sort(),
      expandPreset('pss-restricted')
        .map((x) => x.id)
        .sort(),
    );
    assert.ok(!ids.includes('resource-limits'));
    const caps = r.policies[0]!.rules.find((x) => x.id === 'capabilities')!;
    assert.deepEqual(caps.params['allowedAdd'], ['NET_BIND_SERVICE', 'NET_RAW']);
    assert.deepEqual(caps.params['requiredDrop'], ['ALL'], "the preset's other params stay");
    const restricted = expandPreset('pss-restricted').find((x) => x.id === 'seccomp-profile')!;
    assert.deepEqual(
      r.policies[0]!.rules.find((x) => x.id === 'seccomp-profile'),
      restricted,
    );
  });
  it('refuses a rule configured twice', () => {
    const errors = errorsOf(
      parsePolicyDocuments(
        doc(
          '  type: MISCONFIGURATION\n  action: BLOCK\n  rules: [{ id: privileged-container }, { id: privileged-container }]',
        ),
        'p.yaml',
      ),
    );
    assert.equal(errors[0]!.field, 'spec.rules[1].id');
    assert.match(errors[0]!.message, /already configured by spec.rules\[0\]/);
  });
  it('reads exemptions: both label selector forms, YAML timestamps, generated ids', () => {
    const r = parsePolicyDocuments(
      doc(
        '  type: VULNERABILITY\n  action: BLOCK\n  rules: [{ id: vulnerability-severity }]\n  exemptions:\n    - { labelSelector: { matchLabels: { app: web } }, reason: r, grantedBy: g, expiresAt: 2027-01-01 }\n    - { id: xz, cves: [CVE-2024-3094], images: ["ghcr.io/acme/"], match: PREFIX, rules: [vulnerability-severity], reason: r, grantedBy: g }',
      ),
      'p.yaml',
    );
    assert.ok(r.ok, JSON.stringify(r));
    const [a, b] = r.policies[0]!.exemptions;
    assert.deepEqual(a!.labelSelector, { app: 'web' });
    assert.equal(a!.expiresAt, '2027-01-01T00:00:00.000Z');
    assert.equal(a!.id, 'exemption-0');
    assert.equal(b!.id, 'xz');
    assert.deepEqual(b!.rules, ['vulnerability-severity']);
    const flat = parsePolicyDocuments(
      doc(
        '  type: VULNERABILITY\n  action: BLOCK\n  exemptions: [{ labelSelector: { app: web }, reason: r, grantedBy: g }]',
      ),
      'q',
    );
    assert.ok(flat.ok, JSON.stringify(flat));
    assert.deepEqual(flat.policies[0]!.exemptions[0]!.labelSelector, { app: 'web' });
  });
  const exemptionErrors: Array<[string, string, RegExp]> = [
    [
      '{ names: [a], reason: r, grantedBy: g, match: FUZZY }',
      'spec.exemptions[0].match',
      /EQUALS, PREFIX, SUFFIX, CONTAINS, GLOB/,
    ],
    ['{ names: [a], reason: r, grantedBy: g, expiresAt: soon }', 'spec.exemptions[0].expiresAt', /ISO 8601/],
    ['{ names: [a], reason: " ", grantedBy: g }', 'spec.exemptions[0].reason', /required/],
    [
      '{ names: [a], reason: r, grantedBy: g, rules: [nope] }',
      'spec.exemptions[0].rules[0]',
      /not a MISCONFIGURATION rule/,
    ],
    ['{ names: [a, 3], reason: r, grantedBy: g }', 'spec.exemptions[0].names[1]', /must be a string/],
    ['{ labelSelector: { app: [x] }, reason: r, grantedBy: g }', 'spec.exemptions[0].labelSelector', /string values/],
    ['{ names: [a], reason: r, grantedBy: g, until: 2027 }', 'spec.exemptions[0].until', /unknown field/],
  ];
  for (const [entry, field, message] of exemptionErrors) {
    it(`exemption error names ${field}`, () => {
      const errors = errorsOf(
        parsePolicyDocuments(doc(`  type: MISCONFIGURATION\n  action: BLOCK\n  exemptions: [${entry}]`), 'p.yaml'),
      );
      assert.equal(errors[0]!.field, field);
      assert.match(errors[0]!.message, message);
    });
  }
  it('bounds patterns: at most 100 per list, namespace patterns 253 characters, name and image patterns 512, naming the field', () => {
    const list = (n: number, p = 'a') => `[${Array.from({ length: n }, () => JSON.stringify(p)).join(', ')}]`;
    const cases: Array<[string, string, RegExp]> = [
      [
        `scope: { namespaces: { include: ${list(101)} } }`,
        'spec.scope.namespaces.include',
        /101 patterns; at most 100/,
      ],
      [
        `scope: { namespaces: { exclude: ${list(101)} } }`,
        'spec.scope.namespaces.exclude',
        /101 patterns; at most 100/,
      ],
      [
        `scope: { namespaces: { include: ["${'a'.repeat(254)}"] } }`,
        'spec.scope.namespaces.include[0]',
        /254 characters long; a pattern has at most 253/,
      ],
      [
        `exemptions: [{ names: ${list(101)}, reason: r, grantedBy: g }]`,
        'spec.exemptions[0].names',
        /101 patterns; at most 100/,
      ],
      [
        `exemptions: [{ images: ["a", "${'a'.repeat(513)}"], reason: r, grantedBy: g }]`,
        'spec.exemptions[0].images[1]',
        /513 characters long; a pattern has at most 512/,
      ],
      [
        `exemptions: [{ names: ["${'*a'.repeat(257)}"], match: GLOB, reason: r, grantedBy: g }]`,
        'spec.exemptions[0].names[0]',
        /514 characters long/,
      ],
      [
        `exemptions: [{ namespaces: ["${'a'.repeat(254)}"], reason: r, grantedBy: g }]`,
        'spec.exemptions[0].namespaces[0]',
        /at most 253/,
      ],
      [
        `rules: [{ id: trusted-registries, params: { allowedImages: ["${'a'.repeat(513)}"] } }]`,
        'spec.rules[0].params.allowedImages[0]',
        /at most 512 characters/,
      ],
    ];
    for (const [spec, field, message] of cases) {
      const errors = errorsOf(
        parsePolicyDocuments(doc(`  type: MISCONFIGURATION\n  action: BLOCK\n  ${spec}`), 'p.yaml'),
      );
      assert.equal(errors[0]!.field, field, spec.slice(0, 80));
      assert.match(errors[0]!.message, message);
    }
    // the limits themselves are accepted
    const atLimit = `scope: { namespaces: { include: ${list(100, 'a'.repeat(253))} } }\n  exemptions: [{ names: ${list(100, '*'.repeat(512))}, match: GLOB, reason: r, grantedBy: g }]`;
    assert.ok(parsePolicyDocuments(doc(`  type: MISCONFIGURATION\n  action: BLOCK\n  ${atLimit}`), 'p.yaml').ok);
  });
  it('refuses two policies with one name, empty files, bad JSON and documents that are not objects', () => {
    const same = doc('  type: MISCONFIGURATION\n  action: BLOCK');
    assert.deepEqual(
      errorsOf(parsePolicyDocuments(`${same}---\n${same}`, 'p.yaml')).map((e) => [e.document, e.field]),
      [[1, 'metadata.name']],
    );
    assert.match(errorsOf(parsePolicyDocuments('# nothing\n', 'e.yaml'))[0]!.message, /e.yaml: no policy documents/);
    assert.match(
      errorsOf(parsePolicyDocuments('{"kind": ', 'p.json'))[0]!.message,
      /^p.json: document 1: not valid JSON/,
    );
    assert.deepEqual(
      errorsOf(parsePolicyDocuments('- a\n- b\n', 'l.yaml')).map((e) => e.field),
      ['(document)'],
    );
    assert.equal(errorsOf(parsePolicyDocuments('a: 1\na: 2\n', 'dup.yaml'))[0]!.field, '(yaml)');
  });
  it('keeps an explicit id, and policy ids default to the name', () => {
    const r = parsePolicyDocuments(
      doc(
        '  type: MISCONFIGURATION\n  action: BLOCK',
        '{ name: Default K8s misconfiguration rule, id: pol_01J9, description: d }',
      ),
      'p.yaml',
    );
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.policies[0]!.id, 'pol_01J9');
    const s = parsePolicyDocuments(doc('  type: MISCONFIGURATION\n  action: BLOCK', '{ name: web team }'), 'p.yaml');
    assert.ok(s.ok);
    assert.equal(s.policies[0]!.id, 'web team');
  });
});
