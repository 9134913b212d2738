import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { toEnforceable, type EnforceableBundle } from '@portcullis/admission';
import type { BundlePolicy } from '@portcullis/bundle';
import {
  bundleDocument,
  eventually,
  memoryLogger,
  newId,
  onlyRule,
  startKubeApi,
  type KubeApiStandIn,
} from '@portcullis/testing';
import { inClusterKubeConfig } from '../src/kube/kube-config';
import type { Compilation, CompileVap } from '../src/native/compiled';
import { NativeKube } from '../src/native/native-kube';
import { NativeReconciler } from '../src/native/native-reconciler';

const VAP = 'ValidatingAdmissionPolicy';
const BINDING = 'ValidatingAdmissionPolicyBinding';
const AR = 'admissionregistration.k8s.io/v1';

/**
 * The reconciler is the subject here, so the compiler is a small stand-in with the shape of
 * @portcullis/vap's output (one VAP and one binding per policy x rule, labelled with policy and
 * rule; exemptions not yet expired become a matchCondition; nextExpiry the earliest). The agent
 * e2e (native-enforcement.e2e.spec.ts) runs the real compiler.
 */
const compile: CompileVap = (policies, { now, labels, excludedNamespaces }) => {
  const objects: Array<Record<string, unknown>> = [];
  let nextExpiry: string | undefined;
  const outcomes = policies.map((p) => {
    const names: string[] = [];
    const unsupported: Array<{ rule?: string; what: string; reason: string }> = [];
    const live = p.exemptions.filter((e) => {
      const exp = e['expiresAt'] as string | undefined;
      if (exp && Date.parse(exp) > now.getTime() && (!nextExpiry || exp < nextExpiry)) nextExpiry = exp;
      return !exp || Date.parse(exp) > now.getTime();
    });
    for (const r of p.rules) {
      if (r.id === 'trusted-registries') {
        unsupported.push({ rule: r.id, what: 'parameter allowedImages', reason: 'not expressible in this stand-in' });
        continue;
      }
      const name = `portcullis.${p.id.slice(0, 8)}.${r.id}`;
      const meta = { labels: { ...labels, 'portcullis.dev/policy-id': p.id, 'portcullis.dev/rule': r.id } };
      objects.push({
        apiVersion: AR,
        kind: VAP,
        metadata: { name, ...meta },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            resourceRules: [
              { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] },
            ],
          },
          matchConditions: live.map((e, i) => ({
            name: `exemption-${i}`,
            expression: `!(object.metadata.name in ${JSON.stringify(e['names'] ?? [])})`,
          })),
          validations: [{ expression: 'true', messageExpression: `'${r.id}'` }],
        },
      });
      objects.push({
        apiVersion: AR,
        kind: BINDING,
        metadata: { name, ...meta },
        spec: {
          policyName: name,
          validationActions: p.action === 'BLOCK' ? ['Deny'] : ['Warn', 'Audit'],
          matchResources: {
            namespaceSelector: {
              matchExpressions: [
                { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...excludedNamespaces] },
              ],
            },
          },
        },
      });
      names.push(name, name);
    }
    return {
      policyId: p.id,
      policyName: p.name,
      state:
        names.length === 0
          ? ('NOT_COMPILED' as const)
          : unsupported.length
            ? ('PARTIAL' as const)
            : ('COMPILED' as const),
      objectNames: [...new Set(names)],
      unsupported,
    };
  });
  return { objects, policies: outcomes, ...(nextExpiry ? { nextExpiry } : {}) } satisfies Compilation;
};

const policy = (action: 'AUDIT' | 'BLOCK', rules: string[], over: Partial<BundlePolicy> = {}): BundlePolicy => ({
  id: newId(),
  name: `p-${rules.join('-')}`,
  type: 'MISCONFIGURATION',
  action,
  namespaces: { include: [], exclude: [] },
  // trusted-registries is off by default (onlyRule has none for it): given an allow-list here
  rules: rules.flatMap((r) =>
    r === 'trusted-registries' ? [{ id: r, params: { allowedImages: ['registry.example.com/'] } }] : onlyRule(r),
  ),
  exemptions: [],
  ...over,
});

describe('native reconciler against the stand-in Kubernetes API (client-node, service-account token)', () => {
  let kube: KubeApiStandIn;
  let kc: ReturnType<typeof inClusterKubeConfig>;
  let bundle: EnforceableBundle | null = null;
  let revision = 0;
  let reconciler: NativeReconciler;
  let changes = 0;
  const { log, lines } = memoryLogger();

  const serve = (policies: BundlePolicy[], mode: 'native' | 'webhook' = 'native') => {
    bundle = toEnforceable(
      bundleDocument(++revision, policies, { agentSettings: mode === 'native' ? { enforcementMode: 'native' } : {} }),
    );
  };
  const ours = (kind: string) =>
    kube
      .list(AR, kind)
      .filter(
        (o) =>
          (o.metadata['labels'] as Record<string, string> | undefined)?.['app.kubernetes.io/managed-by'] ===
          'portcullis-agent',
      )
      .map((o) => o.metadata.name)
      .sort();
  const pass = async (why = 'test') => {
    reconciler.trigger(why);
    await reconciler.idle();
  };

  before(async () => {
    kube = await startKubeApi();
    const env = kube.agentEnv;
    kc = inClusterKubeConfig({
      host: env['KUBERNETES_SERVICE_HOST']!,
      port: Number(env['KUBERNETES_SERVICE_PORT']),
      serviceAccountRoot: env['PORTCULLIS_KUBE_SERVICEACCOUNT_ROOT']!,
    });
    reconciler = new NativeReconciler(
      () => bundle,
      new NativeKube(kc, 5000),
      compile,
      {
        excludedNamespaces: ['portcullis-system', 'kube-system'],
        resyncMs: 3_600_000,
        metricsMs: 3_600_000,
        metricsMaxBytes: 1024 * 1024,
        backoff: { baseMs: 20, maxMs: 100 },
      },
      log,
      () => changes++,
    );
    reconciler.start();
  });
  after(async () => {
    await reconciler.close();
    await kube.close();
  });
  beforeEach(() => {
    kube.setMetrics('');
  });

  it('applies one VAP and one binding per rule with server-side apply as portcullis-agent, labelled, and reports ENFORCED', async () => {
    const p = policy('BLOCK', ['privileged-container', 'host-namespaces']);
    serve([p]);
    await pass();
    assert.deepEqual(ours(VAP), [
      `portcullis.${p.id.slice(0, 8)}.host-namespaces`,
      `portcullis.${p.id.slice(0, 8)}.privileged-container`,
    ]);
    assert.deepEqual(ours(BINDING), ours(VAP));
    const applies = kube.requests.filter((r) => r.method === 'PATCH');
    assert.equal(applies.length, 4);
    for (const r of applies) {
      assert.equal(r.contentType, 'application/apply-patch+yaml');
      assert.equal(r.fieldManager, 'portcullis-agent');
      assert.equal(r.query['force'], 'true');
    }
    const b = kube.get(AR, BINDING, undefined, `portcullis.${p.id.slice(0, 8)}.privileged-container`)!;
    assert.deepEqual((b['spec'] as { validationActions: string[] }).validationActions, ['Deny']);
    assert.deepEqual((b['spec'] as any).matchResources.namespaceSelector.matchExpressions[0].values, [
      'portcullis-system',
      'kube-system',
    ]);
    const managers = (b.metadata['managedFields'] as Array<{ manager: string; operation: string }>).map((m) => [
      m.manager,
      m.operation,
    ]);
    assert.deepEqual(managers, [['portcullis-agent', 'Apply']]);
    const s = reconciler.snapshot()!;
    assert.equal(s.revision, revision);
    assert.deepEqual(s.policies, [{ policyId: p.id, state: 'ENFORCED', reason: null, objects: 4 }]);
  });

  it('a new revision without a policy deletes its objects (only ours: a foreign VAP with our name pattern stays)', async () => {
    kube.put({
      apiVersion: AR,
      kind: VAP,
      metadata: { name: 'team-owned', labels: { 'app.kubernetes.io/managed-by': 'helm' } },
      spec: { validations: [{ expression: 'true' }] },
    });
    const keep = policy('AUDIT', ['capabilities']);
    serve([keep]);
    const deletesBefore = kube.requests.filter((r) => r.method === 'DELETE').length;
    await pass();
    assert.deepEqual(ours(VAP), [`portcullis.${keep.id.slice(0, 8)}.capabilities`]);
    assert.deepEqual(ours(BINDING), ours(VAP));
    assert.ok(kube.get(AR, VAP, undefined, 'team-owned'), 'a VAP that is not ours is never touched');
    assert.equal(kube.requests.filter((r) => r.method === 'DELETE').length - deletesBefore, 4);
    const b = kube.get(AR, BINDING, undefined, `portcullis.${keep.id.slice(0, 8)}.capabilities`)!;
    assert.deepEqual((b['spec'] as { validationActions: string[] }).validationActions, ['Warn', 'Audit']);
  });

  it('an object of our name that someone else owns is left alone and reported APPLY_FAILED', async () => {
    const p = policy('BLOCK', ['read-only-root-filesystem']);
    const name = `portcullis.${p.id.slice(0, 8)}.read-only-root-filesystem`;
    kube.put({ apiVersion: AR, kind: VAP, metadata: { name }, spec: { validations: [{ expression: 'false' }] } });
    serve([p]);
    await pass();
    const vap = kube.get(AR, VAP, undefined, name)!;
    assert.deepEqual((vap['spec'] as any).validations, [{ expression: 'false' }], 'not overwritten');
    const s = reconciler.snapshot()!.policies[0]!;
    assert.equal(s.state, 'APPLY_FAILED');
    assert.match(s.reason!, /already exists and is not managed by portcullis-agent/);
    kube.remove(AR, VAP, undefined, name);
  });

  it('the API refusing one object marks its policy APPLY_FAILED with the API message; the others are applied', async () => {
    const bad = policy('BLOCK', ['privileged-container']);
    const good = policy('BLOCK', ['host-namespaces']);
    const undo = kube.refuse(
      (r) => r.kind === VAP && r.name === `portcullis.${bad.id.slice(0, 8)}.privileged-container`,
      {
        code: 422,
        reason: 'Invalid',
        message:
          'ValidatingAdmissionPolicy.admissionregistration.k8s.io "x" is invalid: spec.validations[0].expression: Invalid value: compilation failed',
      },
    );
    serve([bad, good]);
    await pass();
    undo();
    const [b, g] = reconciler.snapshot()!.policies;
    assert.equal(b!.state, 'APPLY_FAILED');
    assert.match(b!.reason!, /422 .*spec\.validations\[0\]\.expression: Invalid value: compilation failed/);
    assert.equal(b!.objects, 1, 'its binding went in');
    assert.equal(g!.state, 'ENFORCED');
    assert.ok(ours(VAP).includes(`portcullis.${good.id.slice(0, 8)}.host-namespaces`));
    assert.ok(changes > 0, 'the status reporter was told');
  });

  it('PARTIAL and NOT_COMPILED carry the compiler reasons', async () => {
    const partial = policy('BLOCK', ['privileged-container', 'trusted-registries']);
    const none = policy('BLOCK', ['trusted-registries']);
    serve([partial, none]);
    await pass();
    const [p, n] = reconciler.snapshot()!.policies;
    assert.equal(p!.state, 'PARTIAL');
    assert.match(p!.reason!, /trusted-registries: parameter allowedImages/);
    assert.deepEqual(p!.unsupported, [
      { rule: 'trusted-registries', what: 'parameter allowedImages', reason: 'not expressible in this stand-in' },
    ]);
    assert.equal(n!.state, 'NOT_COMPILED');
    assert.equal(n!.objects, 0);
  });

  it('an exemption that expires triggers a recompile and re-apply without it (CEL has no clock)', async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const p = policy('BLOCK', ['privileged-container'], {
      exemptions: [
        {
          id: newId(),
          kinds: ['Pod'],
          names: ['legacy'],
          match: 'EQUALS',
          reason: 'migration',
          grantedBy: 'sec-team',
          expiresAt,
        },
      ],
    });
    const name = `portcullis.${p.id.slice(0, 8)}.privileged-container`;
    serve([p]);
    await pass();
    const conditions = () =>
      (kube.get(AR, VAP, undefined, name)!['spec'] as { matchConditions: unknown[] }).matchConditions;
    assert.equal(conditions().length, 1);
    await eventually('the VAP re-applied without the expired exemption', () => conditions().length === 0, 10_000);
    await eventually('the pass logged as triggered by the expiry', () =>
      lines.some((l) => l['why'] === 'exemption-expired'),
    );
  });

  it('drift: an object of ours deleted or edited by hand is put back on the next pass; an unchanged cluster gets no write', async () => {
    const p = policy('BLOCK', ['host-namespaces']);
    serve([p]);
    await pass();
    const name = `portcullis.${p.id.slice(0, 8)}.host-namespaces`;
    kube.remove(AR, BINDING, undefined, name);
    const vap = kube.get(AR, VAP, undefined, name)!;
    kube.put({ ...vap, spec: { ...(vap['spec'] as object), validations: [{ expression: 'true' }] } });
    await pass('resync');
    assert.ok(kube.get(AR, BINDING, undefined, name));
    assert.deepEqual((kube.get(AR, VAP, undefined, name)!['spec'] as any).validations, [
      { expression: 'true', messageExpression: "'host-namespaces'" },
    ]);
    const writes = () => kube.requests.filter((r) => r.method !== 'GET').length;
    const before = writes();
    await pass('resync');
    assert.equal(writes(), before, 'nothing changed, nothing written');
  });

  it('the API unavailable (503): reported, retried with backoff on its own until applied', async () => {
    const p = policy('BLOCK', ['privilege-escalation']);
    const undo = kube.refuse(() => true, { code: 503, reason: 'ServiceUnavailable', message: 'etcd is unavailable' });
    serve([p]);
    await pass();
    assert.match(reconciler.lastError ?? '', /^native: apply ValidatingAdmissionPolicy .*503 etcd is unavailable/);
    assert.equal(reconciler.snapshot()!.policies[0]!.state, 'APPLY_FAILED');
    undo();
    await eventually(
      'applied by a retry nobody triggered',
      () => reconciler.snapshot()?.policies[0]?.state === 'ENFORCED',
    );
    assert.equal(reconciler.lastError, null);
  });

  it('a compiler that throws: every object is left as it is, each policy NOT_COMPILED with the error, nothing throws', async () => {
    const p = policy('BLOCK', ['host-namespaces']);
    serve([p]);
    await pass();
    const before = [...ours(VAP), ...ours(BINDING)];
    assert.ok(before.length > 0);
    const broken = new NativeReconciler(
      () => bundle,
      new NativeKube(kc, 5000),
      () => {
        throw new Error('compiler bug');
      },
      {
        excludedNamespaces: [],
        resyncMs: 3_600_000,
        metricsMs: 3_600_000,
        metricsMaxBytes: 1024,
        backoff: { baseMs: 20, maxMs: 100 },
      },
      log,
      () => undefined,
    );
    broken.start();
    await broken.idle();
    assert.match(broken.lastError ?? '', /could not compile revision \d+: compiler bug/);
    assert.deepEqual(
      broken.snapshot()!.policies.map((x) => [x.policyId, x.state]),
      [[p.id, 'NOT_COMPILED']],
    );
    assert.deepEqual([...ours(VAP), ...ours(BINDING)], before, 'nothing deleted');
    await broken.close();
  });

  it('native denials: kube-apiserver counters of our VAPs, per policy, rule and action', async () => {
    const p = policy('BLOCK', ['privileged-container']);
    serve([p]);
    await pass();
    const name = `portcullis.${p.id.slice(0, 8)}.privileged-container`;
    kube.setMetrics(
      [
        '# TYPE apiserver_validating_admission_policy_check_total counter',
        `apiserver_validating_admission_policy_check_total{enforcement_action="deny",error_type="no_error",policy="${name}",policy_binding="${name}"} 5`,
        `apiserver_validating_admission_policy_check_total{enforcement_action="deny",error_type="no_error",policy="other",policy_binding="other"} 9`,
        'apiserver_request_total{code="200"} 100',
      ].join('\n'),
    );
    await pass();
    await eventually('checks read', () => reconciler.snapshot()?.checks?.length === 1);
    assert.deepEqual(reconciler.snapshot()!.checks, [
      { policyId: p.id, rule: 'privileged-container', enforcementAction: 'deny', count: 5 },
    ]);
    assert.equal(reconciler.snapshot()!.metricsError, null);
  });

  it('back to webhook mode: every object of ours is removed, others stay, and the native status is gone', async () => {
    serve([policy('BLOCK', ['privileged-container'])], 'webhook');
    await pass();
    assert.deepEqual(ours(VAP), []);
    assert.deepEqual(ours(BINDING), []);
    assert.ok(kube.get(AR, VAP, undefined, 'team-owned'));
    assert.equal(reconciler.snapshot(), undefined);
  });
});
