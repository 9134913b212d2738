import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BundlePolicy } from '@portcullis/bundle';
import { defaultRuleConfigs, expandPreset, RULE_CATALOG } from '@portcullis/policy-engine';
import { COMPILABLE_RULES, compileVap, LABEL_POLICY_ID, LABEL_RULE } from '@portcullis/vap';

const NOW = new Date('2026-12-06T12:00:00Z');

type Obj = Record<string, any>;

const policy = (over: Partial<BundlePolicy> = {}): BundlePolicy => ({
  id: '6f1c2b1e-0d7a-4a0e-9a55-0a1b2c3d4e5f',
  name: 'Block privileged',
  type: 'MISCONFIGURATION',
  action: 'BLOCK',
  namespaces: { include: [], exclude: [] },
  rules: [{ id: 'privileged-container', params: {} }],
  exemptions: [],
  ...over,
});

const vaps = (objects: readonly Obj[]) => objects.filter((o) => o['kind'] === 'ValidatingAdmissionPolicy');
const bindings = (objects: readonly Obj[]) => objects.filter((o) => o['kind'] === 'ValidatingAdmissionPolicyBinding');

describe('compileVap', () => {
  it('compiles a Block privileged policy to one VAP with [Deny] and the pod and workload resources', () => {
    const r = compileVap([policy()], { now: NOW });
    assert.equal(r.objects.length, 2);
    const [vap] = vaps(r.objects);
    const [binding] = bindings(r.objects);
    assert.equal(vap.apiVersion, 'admissionregistration.k8s.io/v1');
    assert.equal(vap.metadata.name, binding.metadata.name);
    assert.match(vap.metadata.name, /^portcullis\.block-privileged-[0-9a-f]{8}\.privileged-container$/);
    assert.deepEqual(binding.spec, { policyName: vap.metadata.name, validationActions: ['Deny'] });
    assert.equal(vap.spec.failurePolicy, 'Fail');
    const resources = vap.spec.matchConstraints.resourceRules.flatMap((rr: Obj) => rr['resources']);
    assert.deepEqual(resources.sort(), [
      'cronjobs',
      'daemonsets',
      'deployments',
      'jobs',
      'pods',
      'pods/ephemeralcontainers',
      'podtemplates',
      'replicasets',
      'replicationcontrollers',
      'statefulsets',
    ]);
    assert.ok(vap.spec.matchConstraints.resourceRules.every((rr: Obj) => rr['scope'] === 'Namespaced'));
    const sub = vap.spec.matchConstraints.resourceRules.find((rr: Obj) =>
      rr['resources'].includes('pods/ephemeralcontainers'),
    );
    assert.deepEqual(sub.operations, ['UPDATE']);
    // one validation per container list, each naming the policy and rule
    assert.equal(vap.spec.validations.length, 3);
    for (const v of vap.spec.validations) {
      assert.match(v.messageExpression, /policy \\"Block privileged\\" rule privileged-container/);
      assert.match(v.expression, /securityContext\.privileged == true/);
    }
    assert.deepEqual(
      vap.spec.variables.map((v: Obj) => v['name']),
      ['podSpec', 'containers', 'initContainers', 'ephemeralContainers'],
    );
    assert.match(vap.spec.variables[0].expression, /object\.spec\.jobTemplate\.spec\.template\.spec/);
    assert.equal(vap.metadata.labels[LABEL_POLICY_ID], '6f1c2b1e-0d7a-4a0e-9a55-0a1b2c3d4e5f');
    assert.equal(vap.metadata.labels[LABEL_RULE], 'privileged-container');
    assert.deepEqual(r.policies, [
      {
        policyId: '6f1c2b1e-0d7a-4a0e-9a55-0a1b2c3d4e5f',
        policyName: 'Block privileged',
        state: 'COMPILED',
        objectNames: [vap.metadata.name],
        unsupported: [],
      },
    ]);
  });

  it('gives Audit policies [Warn, Audit] and failurePolicy Ignore', () => {
    const r = compileVap([policy({ action: 'AUDIT' })], { now: NOW });
    assert.deepEqual(bindings(r.objects)[0].spec.validationActions, ['Warn', 'Audit']);
    assert.equal(vaps(r.objects)[0].spec.failurePolicy, 'Ignore');
  });

  it('compiles every misconfiguration rule of the catalog, with defaults and both presets', () => {
    const misconfig = RULE_CATALOG.filter((d) => d.policyType === 'MISCONFIGURATION').map((d) => d.id);
    assert.deepEqual([...COMPILABLE_RULES].sort(), [...misconfig].sort());
    for (const rules of [
      misconfig.map((id) => ({ id, params: {} })),
      expandPreset('pss-baseline'),
      expandPreset('pss-restricted'),
    ]) {
      const r = compileVap([policy({ rules: rules.map((x) => ({ id: x.id, params: x.params })) })], { now: NOW });
      assert.equal(r.policies[0]!.state, 'COMPILED');
      assert.equal(vaps(r.objects).length, rules.length);
      assert.equal(bindings(r.objects).length, rules.length);
    }
  });

  it('puts ingress-https on ingresses only and default-namespace on pods, workloads and ingresses', () => {
    const r = compileVap(
      [
        policy({
          rules: [
            { id: 'ingress-https', params: {} },
            { id: 'default-namespace', params: {} },
          ],
        }),
      ],
      {
        now: NOW,
      },
    );
    const [ingress, ns] = vaps(r.objects);
    assert.deepEqual(ingress.spec.matchConstraints.resourceRules, [
      {
        apiGroups: ['networking.k8s.io'],
        apiVersions: ['v1'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['ingresses'],
        scope: 'Namespaced',
      },
    ]);
    assert.ok(!('variables' in ingress.spec));
    const resources = ns.spec.matchConstraints.resourceRules.flatMap((rr: Obj) => rr['resources']);
    assert.ok(resources.includes('ingresses') && resources.includes('pods') && resources.includes('cronjobs'));
    assert.match(ns.spec.validations[0].expression, /in \["default"\]/);
  });

  it('skips vulnerability policies and reports vulnerability rules in a misconfiguration policy', () => {
    const r = compileVap(
      [
        policy({ id: 'v', type: 'VULNERABILITY', rules: [{ id: 'vulnerability-severity', params: {} }] }),
        policy({
          rules: [
            { id: 'privileged-container', params: {} },
            { id: 'vulnerability-blocked-cves', params: {} },
          ],
        }),
      ],
      { now: NOW },
    );
    assert.equal(r.policies.length, 1);
    assert.equal(r.policies[0]!.state, 'PARTIAL');
    assert.deepEqual(r.policies[0]!.unsupported, [
      {
        rule: 'vulnerability-blocked-cves',
        what: 'rule',
        reason: 'needs scan artifacts at admission; stays in the webhook',
      },
    ]);
    assert.equal(vaps(r.objects).length, 1);
  });

  it('reports unknown rules and invalid parameters instead of dropping them', () => {
    const r = compileVap(
      [
        policy({
          rules: [
            { id: 'no-such-rule', params: {} },
            { id: 'resource-limits', params: { maxCpuLimit: 'lots' } },
          ],
        }),
      ],
      { now: NOW },
    );
    assert.equal(r.policies[0]!.state, 'NOT_COMPILED');
    assert.deepEqual(
      r.policies[0]!.unsupported.map((u) => [u.rule, u.what]),
      [
        ['no-such-rule', 'rule'],
        ['resource-limits', 'parameters'],
      ],
    );
    assert.match(r.policies[0]!.unsupported[1]!.reason, /maxCpuLimit/);
    assert.equal(r.objects.length, 0);
  });

  it('turns namespace globs and agent exclusions into anchored RE2 matchConditions', () => {
    const r = compileVap([policy({ namespaces: { include: ['prod-*'], exclude: ['prod-sandbox?'] } })], {
      now: NOW,
      excludedNamespaces: ['kube-system'],
    });
    const conditions = vaps(r.objects)[0].spec.matchConditions as Obj[];
    const scope = conditions.find((c) => c['name'] === 'namespace-scope')!;
    assert.match(scope['expression'], /matches\("\(\?s\)\^prod\\\\-\.\*\$"\)/);
    assert.match(scope['expression'], /matches\("\(\?s\)\^prod\\\\-sandbox\.\$"\)/);
    const agent = conditions.find((c) => c['name'] === 'agent-excluded-namespaces')!;
    assert.match(agent['expression'], /kube\\\\-system/);
  });

  it('leaves out expired exemptions, keeps live ones, and says when to recompile', () => {
    const exemption = (id: string, expiresAt: string | null, extra: Obj = {}) => ({
      id,
      match: 'EQUALS',
      names: [`web-${id}`],
      reason: 'r',
      grantedBy: 'g',
      expiresAt,
      ...extra,
    });
    const r = compileVap(
      [
        policy({
          exemptions: [
            exemption('old', '2026-12-06T12:00:00Z'),
            exemption('soon', '2026-12-07T00:00:00Z'),
            exemption('later', '2027-01-01T00:00:00Z'),
            exemption('other-rule', null, { rules: ['capabilities'] }),
          ],
        }),
      ],
      { now: NOW },
    );
    assert.equal(r.nextExpiry, '2026-12-07T00:00:00.000Z');
    const condition = (vaps(r.objects)[0].spec.matchConditions as Obj[]).find((c) => c['name'] === 'not-exempted')!;
    assert.doesNotMatch(condition['expression'], /web-old/);
    assert.match(condition['expression'], /web-soon/);
    assert.match(condition['expression'], /web-later/);
    assert.doesNotMatch(condition['expression'], /web-other-rule/);
  });

  it('checks image exemptions inside the expressions, per container', () => {
    const r = compileVap(
      [
        policy({
          exemptions: [{ id: 'i', match: 'PREFIX', images: ['quay.io/calico/'], reason: 'r', grantedBy: 'g' }],
        }),
      ],
      { now: NOW },
    );
    const vap = vaps(r.objects)[0];
    assert.ok(!(vap.spec.matchConditions as Obj[]).some((c) => c['name'] === 'not-exempted'));
    assert.match(vap.spec.validations[0].expression, /startsWith\("quay\.io\/calico\/"\)/);
  });

  it('withholds the rules an unreadable exemption covers', () => {
    const r = compileVap(
      [
        policy({
          rules: [
            { id: 'privileged-container', params: {} },
            { id: 'capabilities', params: {} },
          ],
          exemptions: [{ id: 'bad', match: 'SOMETIMES', names: ['x'], rules: ['capabilities'] }],
        }),
      ],
      { now: NOW },
    );
    assert.equal(r.policies[0]!.state, 'PARTIAL');
    assert.deepEqual(
      r.policies[0]!.unsupported.map((u) => [u.rule ?? null, u.what]),
      [
        [null, 'exemptions[0]'],
        ['capabilities', 'rule'],
      ],
    );
    assert.equal(vaps(r.objects).length, 1);
  });

  it('names objects deterministically, DNS-safe and bounded, with the caller labels', () => {
    const long = policy({
      name: `Ünïcode & ${'very long name '.repeat(30)}`,
      rules: defaultRuleConfigs('MISCONFIGURATION').map((x) => ({ id: x.id, params: x.params })),
    });
    const a = compileVap([long], { now: NOW, labels: { 'app.kubernetes.io/managed-by': 'portcullis-agent' } });
    const b = compileVap([long], { now: NOW, labels: { 'app.kubernetes.io/managed-by': 'portcullis-agent' } });
    assert.deepEqual(a, b);
    for (const o of a.objects as Obj[]) {
      assert.ok(o.metadata.name.length <= 253);
      assert.match(o.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
      assert.equal(o.metadata.labels['app.kubernetes.io/managed-by'], 'portcullis-agent');
    }
    const other = compileVap([{ ...long, id: 'another-id' }], { now: NOW });
    assert.notEqual((other.objects[0] as Obj).metadata.name, (a.objects[0] as Obj).metadata.name);
  });

  it('keeps line breaks out of messages (kube-apiserver refuses them)', () => {
    const r = compileVap(
      [policy({ name: 'two\nlines', rules: [{ id: 'trusted-registries', params: { allowedImages: ['a\nb'] } }] })],
      { now: NOW },
    );
    for (const v of vaps(r.objects)[0].spec.validations) {
      assert.doesNotMatch(v.message, /[\r\n]/);
      assert.match(v.messageExpression, /^"policy \\"two lines\\" rule trusted-registries: "/);
      assert.match(v.messageExpression, /\(allowed: a b\)"$/);
    }
  });
});
