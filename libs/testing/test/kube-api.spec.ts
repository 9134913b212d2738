import assert from 'node:assert/strict';
import * as https from 'node:https';
import { after, before, describe, it } from 'node:test';
import {
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { startKubeApi, type KubeApiStandIn } from '@portcullis/testing';

// The stand-in Kubernetes API is what native enforcement and the background audit are tested
// against: here it is held to the API server's behaviour as client-node sees it.

const pod = (namespace: string, name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { namespace, name, labels },
  spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
});

const policy = (name: string, expression: string) => ({
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicy',
  metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'portcullis-agent' } },
  spec: {
    failurePolicy: 'Fail',
    matchConstraints: {
      resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
    },
    validations: [{ expression }],
  },
});

interface Event {
  readonly type: string;
  readonly name?: string;
  readonly code?: number;
}

function watchEvents(kc: KubeConfig, path: string, query: Record<string, string>) {
  const events: Event[] = [];
  let ended: unknown = 'open';
  const started = new Watch(kc).watch(
    path,
    query,
    (type, obj: { metadata?: { name?: string }; code?: number }) => {
      events.push({
        type,
        ...(obj.metadata?.name ? { name: obj.metadata.name } : {}),
        ...(obj.code ? { code: obj.code } : {}),
      });
    },
    (err: unknown) => {
      ended = err ?? null;
    },
  );
  return { events, started, ended: () => ended };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('stand-in Kubernetes API', () => {
  let kube: KubeApiStandIn;
  let kc: KubeConfig;

  before(async () => {
    kube = await startKubeApi({ bookmarkIntervalMs: 100 });
    kc = kube.kubeConfig();
  });
  after(() => kube.close());

  it('refuses a request without the service-account token', async () => {
    const anonymous = new KubeConfig();
    anonymous.loadFromOptions({
      clusters: [{ name: 'c', server: kube.url, caData: Buffer.from(kube.caPem).toString('base64') }],
      users: [{ name: 'u', token: 'not-the-token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    await assert.rejects(
      anonymous.makeApiClient(CoreV1Api).listNamespace(),
      (err: { code?: number }) => err.code === 401,
    );
  });

  it('pages a list as one consistent snapshot and expires its continue token on compaction', async () => {
    for (let i = 0; i < 7; i++) kube.put(pod('paging', `p-${i}`));
    const core = kc.makeApiClient(CoreV1Api);
    const first = await core.listNamespacedPod({ namespace: 'paging', limit: 3 });
    assert.deepEqual(
      first.items.map((p) => p.metadata?.name),
      ['p-0', 'p-1', 'p-2'],
    );
    assert.equal(first.metadata?.remainingItemCount, 4);
    kube.put(pod('paging', 'p-late')); // after the snapshot: not in its pages
    const second = await core.listNamespacedPod({
      namespace: 'paging',
      limit: 3,
      _continue: first.metadata!._continue!,
    });
    const third = await core.listNamespacedPod({
      namespace: 'paging',
      limit: 3,
      _continue: second.metadata!._continue!,
    });
    assert.deepEqual(
      [...second.items, ...third.items].map((p) => p.metadata?.name),
      ['p-3', 'p-4', 'p-5', 'p-6'],
    );
    assert.equal(third.metadata?._continue, undefined);

    const again = await core.listNamespacedPod({ namespace: 'paging', limit: 2 });
    kube.expireWatches();
    await assert.rejects(
      core.listNamespacedPod({ namespace: 'paging', limit: 2, _continue: again.metadata!._continue! }),
      (err: { code?: number }) => err.code === 410,
    );
  });

  it('filters lists by label selector', async () => {
    kube.put(pod('labels', 'a', { app: 'web', tier: 'front' }));
    kube.put(pod('labels', 'b', { app: 'db' }));
    kube.put(pod('labels', 'c', {}));
    const core = kc.makeApiClient(CoreV1Api);
    const names = async (labelSelector: string) =>
      (await core.listNamespacedPod({ namespace: 'labels', labelSelector })).items.map((p) => p.metadata?.name);
    assert.deepEqual(await names('app=web'), ['a']);
    assert.deepEqual(await names('app in (web,db)'), ['a', 'b']);
    assert.deepEqual(await names('!app'), ['c']);
    assert.deepEqual(await names('app!=web'), ['b', 'c']);
    await assert.rejects(names('app=(web'), (err: { code?: number }) => err.code === 400);
  });

  it('watches from a resource version, resumes without loss, and ends with 410 Expired on compaction', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    kube.put(pod('watched', 'before'));
    const listed = await core.listNamespacedPod({ namespace: 'watched' });
    const rv = listed.metadata!.resourceVersion!;
    kube.put(pod('watched', 'while-away')); // between the list and the watch: must not be lost
    const w = watchEvents(kc, '/api/v1/namespaces/watched/pods', { resourceVersion: rv, allowWatchBookmarks: 'true' });
    await w.started;
    kube.put({ ...pod('watched', 'before'), spec: { containers: [{ name: 'app', image: 'nginx:1.28' }] } });
    kube.remove('v1', 'Pod', 'watched', 'while-away');
    kube.put(pod('elsewhere', 'not-this-namespace'));
    await until('three changes', () => w.events.filter((e) => e.type !== 'BOOKMARK').length >= 3);
    assert.deepEqual(
      w.events.filter((e) => e.type !== 'BOOKMARK'),
      [
        { type: 'ADDED', name: 'while-away' },
        { type: 'MODIFIED', name: 'before' },
        { type: 'DELETED', name: 'while-away' },
      ],
    );
    await until('a bookmark', () => w.events.some((e) => e.type === 'BOOKMARK'));

    kube.expireWatches();
    await until('the watch to end', () => w.ended() !== 'open');
    assert.deepEqual(w.events.at(-1), { type: 'ERROR', code: 410 });

    const stale = watchEvents(kc, '/api/v1/namespaces/watched/pods', { resourceVersion: rv });
    await stale.started;
    await until('the stale watch to end', () => stale.ended() !== 'open');
    assert.deepEqual(stale.events, [{ type: 'ERROR', code: 410 }]);
    assert.equal(kube.openWatches, 0);
  });

  it('server-side applies: creates, records the field manager, drops fields it no longer applies, deletes', async () => {
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const apply = (spec: KubernetesObject) =>
      objects.patch(spec, undefined, undefined, 'portcullis-agent', true, PatchStrategy.ServerSideApply);
    const first = policy('portcullis.test.privileged', '!has(object.spec.hostPID)');
    (first.metadata.labels as Record<string, string>)['portcullis.dev/rule'] = 'host-namespaces';
    const created = await apply(first);
    assert.equal(created.metadata?.name, 'portcullis.test.privileged');
    const stored = kube.get(
      'admissionregistration.k8s.io/v1',
      'ValidatingAdmissionPolicy',
      undefined,
      'portcullis.test.privileged',
    );
    assert.equal(stored?.metadata['managedFields'] instanceof Array, true);
    assert.equal((stored!.metadata['managedFields'] as Array<{ manager: string }>)[0]!.manager, 'portcullis-agent');

    const second = policy('portcullis.test.privileged', 'true');
    await apply(second);
    const updated = kube.get(
      'admissionregistration.k8s.io/v1',
      'ValidatingAdmissionPolicy',
      undefined,
      'portcullis.test.privileged',
    )!;
    assert.deepEqual((updated['spec'] as { validations: unknown }).validations, [{ expression: 'true' }]);
    assert.equal((updated.metadata['labels'] as Record<string, string>)['portcullis.dev/rule'], undefined);
    assert.equal(updated.metadata['uid'], stored!.metadata['uid']);

    const listed = await objects.list(
      'admissionregistration.k8s.io/v1',
      'ValidatingAdmissionPolicy',
      undefined,
      undefined,
      undefined,
      undefined,
      'app.kubernetes.io/managed-by=portcullis-agent',
    );
    assert.deepEqual(
      listed.items.map((o) => o.metadata?.name),
      ['portcullis.test.privileged'],
    );
    await objects.delete({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'portcullis.test.privileged' },
    });
    assert.equal(kube.list('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy').length, 0);
    assert.ok(
      kube.requests.some(
        (r) =>
          r.method === 'PATCH' &&
          r.contentType === 'application/apply-patch+yaml' &&
          r.fieldManager === 'portcullis-agent',
      ),
    );
  });

  it('answers a refused write with the Status it was given, until the refusal is lifted', async () => {
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const undo = kube.refuse((req) => req.kind === 'ValidatingAdmissionPolicy' && req.name === 'portcullis.test.bad', {
      code: 422,
      reason: 'Invalid',
      message:
        'ValidatingAdmissionPolicy.admissionregistration.k8s.io "portcullis.test.bad" is invalid: spec.validations[0].expression: Invalid value',
    });
    const spec = policy('portcullis.test.bad', 'object.spec.(');
    await assert.rejects(
      objects.patch(spec, undefined, undefined, 'portcullis-agent', true, PatchStrategy.ServerSideApply),
      (err: { code?: number; body?: string }) =>
        err.code === 422 && String(err.body).includes('spec.validations[0].expression'),
    );
    assert.equal(
      kube.get('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy', undefined, 'portcullis.test.bad'),
      undefined,
    );
    undo();
    await objects.patch(spec, undefined, undefined, 'portcullis-agent', true, PatchStrategy.ServerSideApply);
    assert.ok(
      kube.get('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy', undefined, 'portcullis.test.bad'),
    );
  });

  it('requires a field manager for apply and serves /metrics as set', async () => {
    const noManager = await raw(kube, 'PATCH', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/x', {
      'content-type': 'application/apply-patch+yaml',
      body: 'metadata: {name: x}',
    });
    assert.equal(noManager.status, 400);
    assert.match(noManager.body, /fieldManager: Required value/);
    kube.setMetrics('apiserver_validating_admission_policy_check_total{policy="p"} 3\n');
    const metrics = await raw(kube, 'GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.equal(metrics.body, 'apiserver_validating_admission_policy_check_total{policy="p"} 3\n');
  });
});

function raw(
  kube: KubeApiStandIn,
  method: string,
  path: string,
  options: { 'content-type'?: string; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${kube.url}${path}`,
      {
        method,
        ca: kube.caPem,
        headers: {
          authorization: `Bearer ${kube.token}`,
          ...(options['content-type'] ? { 'content-type': options['content-type'] } : {}),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
