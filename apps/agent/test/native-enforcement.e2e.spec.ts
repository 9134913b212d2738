import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey, type BundlePolicy } from '@portcullis/bundle';
import type { AgentStatus } from '@portcullis/contracts';
import { compileVap } from '@portcullis/vap';
import {
  ControlPlane,
  agentEnv,
  evaluateVap,
  eventually,
  newAgentToken,
  newId,
  onlyRule,
  spawnAgent,
  startKubeApi,
  tempDir,
  testTls,
  validateVapObject,
  vapRequestFor,
  type AgentProcess,
  type KubeApiStandIn,
  type TestTls,
} from '@portcullis/testing';

const AR = 'admissionregistration.k8s.io/v1';
const VAP = 'ValidatingAdmissionPolicy';
const BINDING = 'ValidatingAdmissionPolicyBinding';
const MANAGED = 'app.kubernetes.io/managed-by';
type Native = NonNullable<AgentStatus['native']>;

const blockPolicy = (rules: string[], over: Partial<BundlePolicy> = {}): BundlePolicy => ({
  id: newId(),
  name: `block-${rules.join('-')}`,
  type: 'MISCONFIGURATION',
  action: 'BLOCK',
  namespaces: { include: [], exclude: [] },
  rules: rules.flatMap((r) => onlyRule(r)),
  exemptions: [],
  ...over,
});

/**
 * Native enforcement end to end: the compiled agent as its own process (the real compiler,
 * client-node with the service-account files the stand-in wrote), its bundles from the
 * control-plane stand-in, the Kubernetes API from the Kubernetes stand-in.
 */
describe('native enforcement: the agent process keeps the cluster ValidatingAdmissionPolicies equal to its bundle', () => {
  const token = newAgentToken();
  const key = generateSigningKey();
  let tls: TestTls;
  let api: ControlPlane;
  let kube: KubeApiStandIn;
  let env: Record<string, string>;
  let agent: AgentProcess | null = null;
  const privileged = blockPolicy(['privileged-container']);
  const hostNs = blockPolicy(['host-namespaces', 'read-only-root-filesystem']);

  const ours = (kind: string) =>
    kube
      .list(AR, kind)
      .filter((o) => (o.metadata['labels'] as Record<string, string> | undefined)?.[MANAGED] === 'portcullis-agent');
  const ofPolicy = (kind: string, id: string) =>
    ours(kind).filter((o) => (o.metadata['labels'] as Record<string, string>)['portcullis.dev/policy-id'] === id);
  /** The latest native status for `revision` whose check passes. */
  const nativeStatus = (revision: number, check: (n: Native) => boolean = () => true) =>
    eventually(`a native status for revision ${revision}`, () => {
      for (let i = api.statuses.length - 1; i >= 0; i--) {
        const n = api.statuses[i]!.native;
        if (n && n.revision === revision && check(n)) return n;
      }
      return undefined;
    });
  const publish = (policies: BundlePolicy[], mode: 'native' | 'webhook' = 'native') =>
    api.publish(policies, { agentSettings: mode === 'native' ? { enforcementMode: 'native' } : {} });
  const revisionOf = (envelope: { payload: string }) =>
    (JSON.parse(Buffer.from(envelope.payload, 'base64url').toString('utf8')) as { revision: number }).revision;
  const stopAgent = async () => {
    if (!agent) return;
    agent.child.kill('SIGTERM');
    await agent.exited;
    agent = null;
  };

  before(async () => {
    tls = testTls();
    api = await new ControlPlane(tls, token, key).start();
    kube = await startKubeApi();
    env = {
      ...agentEnv({ dir: tempDir(), apiUrl: api.url, token, jwks: api.jwks, tls }),
      ...kube.agentEnv,
      PORTCULLIS_NATIVE_RESYNC_SECONDS: '3600',
      PORTCULLIS_NATIVE_METRICS_SECONDS: '1',
    };
    // someone else's VAP: never touched
    kube.put({
      apiVersion: AR,
      kind: VAP,
      metadata: { name: 'team-owned-policy', labels: { [MANAGED]: 'helm' } },
      spec: { validations: [{ expression: 'true' }] },
    });
  });
  after(async () => {
    await stopAgent();
    await kube.close();
    await api.stop();
  });

  it('a Block policy in native mode: its VAPs and bindings are applied by server-side apply as portcullis-agent, ENFORCED', async () => {
    const rev = revisionOf(publish([privileged, hostNs]));
    agent = await spawnAgent(env);
    const n = await nativeStatus(rev, (s) => s.policies.length === 2);
    assert.deepEqual(
      n.policies.map((p) => [p.policyId, p.state]),
      [
        [privileged.id, 'ENFORCED'],
        [hostNs.id, 'ENFORCED'],
      ],
      JSON.stringify(n.policies),
    );
    assert.equal(ofPolicy(VAP, privileged.id).length, 1);
    assert.equal(ofPolicy(BINDING, privileged.id).length, 1);
    assert.equal(ofPolicy(VAP, hostNs.id).length, 2);
    assert.equal(n.policies[0]!.objects, 2);
    for (const b of ours(BINDING))
      assert.deepEqual((b['spec'] as { validationActions: string[] }).validationActions, ['Deny']);
    const writes = kube.requests.filter((r) => r.method === 'PATCH' || r.method === 'POST' || r.method === 'PUT');
    assert.ok(writes.length >= 6);
    for (const w of writes) {
      assert.equal(w.method, 'PATCH');
      assert.equal(w.contentType, 'application/apply-patch+yaml');
      assert.equal(w.fieldManager, 'portcullis-agent');
    }
    for (const o of [...ours(VAP), ...ours(BINDING)])
      assert.deepEqual(
        (o.metadata['managedFields'] as Array<{ manager: string }>).map((m) => m.manager),
        ['portcullis-agent'],
      );
    // what reached the API is exactly what the compiler produced (client-node's serialiser drops nothing)
    const compiled = compileVap([privileged, hostNs], {
      labels: { [MANAGED]: 'portcullis-agent' },
      excludedNamespaces: ['portcullis-system', 'kube-system'],
    });
    assert.equal(compiled.objects.length, ours(VAP).length + ours(BINDING).length);
    for (const c of compiled.objects) {
      const meta = c['metadata'] as { name: string; labels: Record<string, string> };
      const stored = kube.get(AR, String(c['kind']), undefined, meta.name)!;
      assert.deepEqual(stored['spec'], c['spec'], `${String(c['kind'])} ${meta.name}`);
      assert.deepEqual(stored.metadata['labels'], meta.labels);
      assert.deepEqual(await validateVapObject(stored), [], `${String(c['kind'])} ${meta.name} is a valid v1 object`);
    }
  });

  it('what the agent applied denies as kube-apiserver would: a privileged pod refused, the same pod in an excluded namespace and a compliant one admitted', () => {
    const cluster = [...kube.list(AR, VAP), ...kube.list(AR, BINDING)];
    const pod = (namespace: string, privilegedFlag: boolean) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web', namespace },
      spec: {
        automountServiceAccountToken: false,
        containers: [
          {
            name: 'web',
            image: 'nginx:1.27',
            securityContext: { privileged: privilegedFlag, readOnlyRootFilesystem: true },
          },
        ],
      },
    });
    const nsObject = (name: string) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { 'kubernetes.io/metadata.name': name } },
    });
    const denied = evaluateVap(cluster, vapRequestFor(pod('shop', true)), { namespaceObject: nsObject('shop') });
    assert.equal(denied.allowed, false, JSON.stringify(denied.errors));
    assert.match(denied.status!.message, /privileged-container/);
    const excluded = evaluateVap(cluster, vapRequestFor(pod('kube-system', true)), {
      namespaceObject: nsObject('kube-system'),
    });
    assert.equal(excluded.allowed, true, JSON.stringify(excluded.denials));
    const compliant = evaluateVap(cluster, vapRequestFor(pod('shop', false)), { namespaceObject: nsObject('shop') });
    assert.equal(compliant.allowed, true, JSON.stringify(compliant.denials));
  });

  it('native denials: kube-apiserver counters of its VAPs reach the status per policy and rule', async () => {
    const vap = ofPolicy(VAP, privileged.id)[0]!.metadata.name;
    kube.setMetrics(
      [
        '# TYPE apiserver_validating_admission_policy_check_total counter',
        `apiserver_validating_admission_policy_check_total{enforcement_action="deny",error_type="no_error",policy="${vap}",policy_binding="${vap}"} 4`,
        'apiserver_validating_admission_policy_check_total{enforcement_action="deny",error_type="no_error",policy="team-owned-policy",policy_binding="x"} 10',
      ].join('\n'),
    );
    const rev = api.statuses.at(-1)!.native!.revision;
    const n = await nativeStatus(rev, (s) => (s.checks?.length ?? 0) > 0);
    assert.deepEqual(n.checks, [
      { policyId: privileged.id, rule: 'privileged-container', enforcementAction: 'deny', count: 4 },
    ]);
    assert.equal(n.metricsError ?? null, null);
  });

  it('the policy deleted (new revision): its objects are deleted, the other policy and foreign objects stay', async () => {
    const rev = revisionOf(publish([hostNs]));
    const n = await nativeStatus(rev);
    assert.deepEqual(
      n.policies.map((p) => p.policyId),
      [hostNs.id],
    );
    await eventually(
      'objects of the deleted policy gone',
      () => ofPolicy(VAP, privileged.id).length === 0 && ofPolicy(BINDING, privileged.id).length === 0,
    );
    assert.equal(ofPolicy(VAP, hostNs.id).length, 2);
    assert.ok(kube.get(AR, VAP, undefined, 'team-owned-policy'));
  });

  it('an exemption that expires: the objects are re-applied without it', async () => {
    const expiresAt = new Date(Date.now() + 4000).toISOString();
    const exempted = blockPolicy(['privileged-container'], {
      exemptions: [
        {
          id: newId(),
          namespaces: ['legacy-payments'],
          match: 'EQUALS',
          reason: 'migration to the new base image',
          grantedBy: 'sec-team',
          expiresAt,
        },
      ],
    });
    const rev = revisionOf(publish([hostNs, exempted]));
    await nativeStatus(rev, (s) => s.policies.length === 2);
    const mentions = () =>
      [...ofPolicy(VAP, exempted.id), ...ofPolicy(BINDING, exempted.id)].some((o) =>
        JSON.stringify(o['spec']).includes('legacy-payments'),
      );
    assert.equal(mentions(), true, 'the live exemption is compiled into the objects');
    const legacyPod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'payments', namespace: 'legacy-payments' },
      spec: {
        containers: [
          { name: 'app', image: 'nginx:1.27', securityContext: { privileged: true, readOnlyRootFilesystem: true } },
        ],
      },
    };
    const admit = () =>
      evaluateVap([...kube.list(AR, VAP), ...kube.list(AR, BINDING)], vapRequestFor(legacyPod), {
        namespaceObject: {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: 'legacy-payments', labels: { 'kubernetes.io/metadata.name': 'legacy-payments' } },
        },
      });
    assert.equal(admit().allowed, true, 'exempted while the exemption lasts');
    await eventually('re-applied without the expired exemption', () => !mentions(), 20_000);
    assert.ok(ofPolicy(VAP, exempted.id).length > 0, 'still enforced');
    assert.equal(admit().allowed, false, 'denied once it expired');
  });

  it('the API refusing an object: its policy is APPLY_FAILED with the API reason, the others still applied', async () => {
    const refused = blockPolicy(['privilege-escalation']);
    const undo = kube.refuse(
      (r) => r.kind === VAP && r.body !== undefined && JSON.stringify(r.body).includes(refused.id),
      {
        code: 422,
        reason: 'Invalid',
        message:
          'ValidatingAdmissionPolicy.admissionregistration.k8s.io is invalid: spec.validations[0].expression: Invalid value: "x": compilation failed',
      },
    );
    try {
      const rev = revisionOf(publish([hostNs, refused]));
      const n = await nativeStatus(rev, (s) => s.policies.length === 2);
      const r = n.policies.find((p) => p.policyId === refused.id)!;
      assert.equal(r.state, 'APPLY_FAILED');
      assert.match(r.reason ?? '', /422 .*spec\.validations\[0\]\.expression: Invalid value/);
      assert.equal(n.policies.find((p) => p.policyId === hostNs.id)!.state, 'ENFORCED');
    } finally {
      undo();
    }
  });

  it('restart: the new process converges with what is there, without duplicates', async () => {
    const before = [...ours(VAP), ...ours(BINDING)]
      .map((o) => `${o.kind}/${o.metadata.name}/${String(o.metadata['uid'])}`)
      .sort();
    const rev = api.statuses.at(-1)!.native!.revision;
    await stopAgent();
    const since = api.statuses.length;
    agent = await spawnAgent(env);
    await eventually('a native status from the restarted agent', () =>
      api.statuses.slice(since).find((s) => s.native?.revision === rev && s.native.policies.length === 2),
    );
    // the refusal is gone: the previously refused policy is now applied, and nothing was created twice
    const afterRestart = [...ours(VAP), ...ours(BINDING)];
    const names = afterRestart.map((o) => `${o.kind}/${o.metadata.name}`);
    assert.equal(new Set(names).size, names.length);
    for (const b of before)
      assert.ok(
        afterRestart.some((o) => `${o.kind}/${o.metadata.name}/${String(o.metadata['uid'])}` === b),
        `${b} kept (same uid)`,
      );
  });

  it('back to webhook mode: every object of ours is deleted, the native status is gone, foreign objects stay', async () => {
    const rev = revisionOf(publish([hostNs], 'webhook'));
    await eventually('our objects removed', () => ours(VAP).length === 0 && ours(BINDING).length === 0);
    await eventually(
      'a status without native',
      () => api.statuses.at(-1)?.appliedRevision === rev && api.statuses.at(-1)!.native === undefined,
    );
    assert.ok(kube.get(AR, VAP, undefined, 'team-owned-policy'));
  });
});
