import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compilePolicies,
  defaultRuleConfigs,
  evaluatePolicies,
  isBlocking,
  wouldBlock,
  type Exemption,
  type Policy,
} from '@portcullis/policy-engine';
import { blockPrivileged } from './policies';

const NOW = new Date('2026-11-23T12:00:00Z');
const privileged = (ns = 'prod-payments', extra: Record<string, unknown> = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'calico-node', namespace: ns, labels: { team: 'net' } },
  spec: {
    template: {
      spec: {
        containers: [
          {
            name: 'c',
            image: 'quay.io/calico/node:v3.32@sha256:' + 'c'.repeat(64),
            securityContext: { privileged: true },
          },
        ],
      },
    },
  },
  ...extra,
});
const policy = blockPrivileged;
const evaluate = (object: unknown, policies: Policy[], owner?: { kind: string; name: string }) =>
  evaluatePolicies(object, compilePolicies(policies), {
    defaultNamespace: 'default',
    now: NOW,
    ...(owner ? { owner } : {}),
  });

describe('decisions over several policies', () => {
  it('deny if any BLOCK policy has a violation; AUDIT violations are reported but allow', () => {
    const r = evaluate(privileged(), [policy({ name: 'audit', action: 'AUDIT' }), policy({ name: 'block' })]);
    assert.equal(r.decision, 'deny');
    assert.deepEqual(
      r.violations.map((v) => [v.policy, v.action]),
      [
        ['audit', 'AUDIT'],
        ['block', 'BLOCK'],
      ],
    );
    assert.equal(evaluate(privileged(), [policy({ name: 'audit', action: 'AUDIT' })]).decision, 'allow');
  });
  it('namespace scopes: include globs, exclude wins', () => {
    const scoped = policy({ namespaces: { include: ['prod-*'], exclude: ['prod-sandbox'] } });
    assert.equal(evaluate(privileged('prod-payments'), [scoped]).decision, 'deny');
    assert.equal(evaluate(privileged('prod-sandbox'), [scoped]).decision, 'allow');
    assert.equal(evaluate(privileged('dev'), [scoped]).decision, 'allow');
    assert.deepEqual(evaluate(privileged('dev'), [scoped]).policiesEvaluated, []);
  });
  it('objects without a namespace take the default one', () => {
    const o = privileged();
    delete (o.metadata as { namespace?: string }).namespace;
    assert.equal(
      evaluate(o, [policy({ namespaces: { include: ['default'], exclude: [] } })]).object!.namespace,
      'default',
    );
  });
  it('not-applicable and cannot-evaluate are values, with a reason', () => {
    const svc = evaluate({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }, [policy({})]);
    assert.equal(svc.status, 'not-applicable');
    const broken = evaluate(
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { template: 'nope' } },
      [policy({})],
    );
    assert.equal(broken.status, 'cannot-evaluate');
    assert.match(broken.reason!, /spec.template/);
    assert.equal(evaluate(42, [policy({})]).status, 'cannot-evaluate');
  });
});

describe('exemptions', () => {
  const ex = (over: Partial<Exemption>): Exemption => ({
    id: 'e1',
    match: 'EQUALS',
    reason: 'r',
    grantedBy: 'u',
    ...over,
  });
  const cases: Array<[string, Partial<Exemption>, boolean]> = [
    ['namespace equals', { namespaces: ['prod-payments'] }, true],
    ['namespace prefix', { namespaces: ['prod-'], match: 'PREFIX' }, true],
    ['namespace suffix', { namespaces: ['-payments'], match: 'SUFFIX' }, true],
    ['namespace contains', { namespaces: ['od-pay'], match: 'CONTAINS' }, true],
    ['namespace glob', { namespaces: ['prod-*'], match: 'GLOB' }, true],
    ['namespace mismatch', { namespaces: ['dev'] }, false],
    ['kind', { kinds: ['Deployment'] }, true],
    ['kind mismatch', { kinds: ['DaemonSet'] }, false],
    ['name prefix', { names: ['calico-'], match: 'PREFIX' }, true],
    ['image registry', { images: ['quay.io'] }, true],
    ['image repository', { images: ['quay.io/calico/node'] }, true],
    ['image digest', { images: ['sha256:' + 'c'.repeat(64)] }, true],
    ['image other', { images: ['docker.io'] }, false],
    ['labels', { labelSelector: { team: 'net' } }, true],
    ['labels mismatch', { labelSelector: { team: 'web' } }, false],
    ['all criteria must hold', { namespaces: ['prod-payments'], kinds: ['DaemonSet'] }, false],
    ['limited to another rule', { namespaces: ['prod-payments'], rules: ['host-namespaces'] }, false],
    ['limited to this rule', { namespaces: ['prod-payments'], rules: ['privileged-container'] }, true],
    ['expired', { namespaces: ['prod-payments'], expiresAt: '2026-11-23T11:59:59Z' }, false],
    ['not yet expired', { namespaces: ['prod-payments'], expiresAt: '2026-11-24T00:00:00Z' }, true],
  ];
  for (const [name, e, exempted] of cases) {
    it(`${name}: ${exempted ? 'exempted, still reported' : 'not exempted'}`, () => {
      const r = evaluate(privileged(), [policy({ exemptions: [ex(e)] })]);
      assert.equal(r.violations.length, 1, 'an exempted violation is still evaluated and recorded');
      assert.equal(r.violations[0]!.exempted, exempted);
      assert.equal(r.decision, exempted ? 'allow' : 'deny');
      if (exempted) assert.equal(r.violations[0]!.exemptionId, 'e1');
    });
  }
  it('kind and name match the owning workload the caller names', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-7d9f-abcde', namespace: 'apps' },
      spec: { containers: [{ name: 'c', image: 'i', securityContext: { privileged: true } }] },
    };
    const r = evaluate(pod, [policy({ exemptions: [ex({ kinds: ['Deployment'], names: ['web'] })] })], {
      kind: 'Deployment',
      name: 'web',
    });
    assert.equal(r.decision, 'allow');
  });
  it('CVE exemptions take their CVEs out of the count', () => {
    const vuln = policy({
      type: 'VULNERABILITY',
      rules: [
        {
          id: 'vulnerability-severity',
          params: { maxCritical: 0, maxHigh: null, maxMedium: null, maxLow: null, onlyFixable: false, ignoreCves: [] },
        },
      ],
    });
    const pod = privileged();
    const lookup = () => ({
      status: 'found' as const,
      artifact: {
        image: 'x',
        scannedAt: NOW.toISOString(),
        findings: [{ id: 'CVE-2024-3094', severity: 'CRITICAL' as const }],
      },
    });
    const run = (p: Policy) =>
      evaluatePolicies(pod, compilePolicies([p]), { defaultNamespace: 'default', now: NOW, scanArtifacts: lookup });
    assert.equal(run(vuln).decision, 'deny');
    assert.equal(run({ ...vuln, exemptions: [ex({ cves: ['CVE-2024-3094'] })] }).decision, 'allow');
    assert.equal(
      run({ ...vuln, exemptions: [ex({ cves: ['CVE-2024-3094'], images: ['docker.io'] })] }).decision,
      'deny',
      'criteria still hold for CVE exemptions',
    );
  });
});

describe('the default misconfiguration policy', () => {
  it('denies an unhardened deployment naming each rule, container and fix', () => {
    const r = evaluate(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'shop' },
        spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx' }] } } },
      },
      [policy({ name: 'Default K8s misconfiguration rule', rules: defaultRuleConfigs('MISCONFIGURATION') })],
    );
    assert.equal(r.decision, 'deny');
    const rules = new Set(r.violations.map((v) => v.rule));
    for (const id of [
      'resource-limits',
      'privilege-escalation',
      'capabilities',
      'run-as-non-root',
      'read-only-root-filesystem',
    ])
      assert.ok(rules.has(id), id);
    for (const v of r.violations) {
      assert.equal(v.container, 'web', v.rule);
      assert.ok(v.path.startsWith('spec.template.spec'), `${v.rule}: ${v.path}`);
      assert.match(v.message, /\b(set|add)\b/, `${v.rule} says how to fix it`);
    }
  });
});

describe('isBlocking agrees with the decision', () => {
  // a getter that throws stands for a bug in a rule: the rule reports RULE_ERROR
  const crashing = () => {
    const securityContext = new Proxy(
      {},
      {
        get: (_t, key) => {
          if (key === 'privileged') throw new Error('rule bug');
          return undefined;
        },
      },
    );
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'shop' },
      spec: { containers: [{ name: 'c', image: 'nginx:1', securityContext }] },
    };
  };
  it('a crashed rule of a BLOCK policy is reported, not blocking, and the decision is allow', () => {
    const r = evaluate(crashing(), [policy({})]);
    assert.deepEqual(
      r.violations.map((v) => [v.rule, v.action, v.reason]),
      [['privileged-container', 'BLOCK', 'RULE_ERROR']],
    );
    assert.equal(isBlocking(r.violations[0]!), false);
    assert.equal(r.decision, 'allow');
  });
  it('BLOCK, not exempted, a real finding: blocking; AUDIT or exempted: not', () => {
    const base = { action: 'BLOCK' as const, exempted: false };
    assert.equal(isBlocking(base), true);
    assert.equal(isBlocking({ ...base, action: 'AUDIT' }), false);
    assert.equal(isBlocking({ ...base, exempted: true }), false);
    assert.equal(isBlocking({ ...base, reason: 'RULE_ERROR' }), false);
    assert.equal(isBlocking({ ...base, reason: 'NO_ARTIFACT' }), true);
  });
  it('decision is deny exactly when some violation is blocking', () => {
    const objects = [
      crashing(),
      privileged(),
      privileged('dev'),
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'ok', namespace: 'x' },
        spec: { containers: [{ name: 'c', image: 'i' }] },
      },
    ];
    const sets: Policy[][] = [
      [policy({})],
      [policy({ action: 'AUDIT' })],
      [policy({ exemptions: [{ id: 'e', match: 'EQUALS', reason: 'r', grantedBy: 'u', namespaces: ['dev'] }] })],
      [policy({ action: 'AUDIT' }), policy({ name: 'b' })],
    ];
    for (const o of objects) {
      for (const s of sets) {
        const r = evaluate(o, s);
        assert.equal(r.decision === 'deny', r.violations.some(isBlocking), JSON.stringify(r.violations));
      }
    }
  });
});

describe('wouldBlock: what Block mode would deny for', () => {
  it('ignores the mode, never counts exempted or crashed-rule violations', () => {
    assert.equal(wouldBlock({ exempted: false }), true);
    assert.equal(wouldBlock({ exempted: true }), false);
    assert.equal(wouldBlock({ exempted: false, reason: 'RULE_ERROR' }), false);
    for (const v of evaluate(privileged(), [policy({ action: 'AUDIT' })]).violations)
      assert.equal(wouldBlock(v), isBlocking({ ...v, action: 'BLOCK' }));
  });
});
