import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  InputError,
  KUBERNETES_ADMIN,
  admitManifests,
  deniedStatus,
  readAnswer,
  type AdmitResult,
  impersonatedUser,
  parseManifests,
  seededNames,
  templateHash,
  type AdmitOptions,
  type Operation,
} from '../../src/admit';

type Obj = Record<string, any>; // reviews are free JSON here

async function run(yaml: string, o: Partial<AdmitOptions> & { operation?: Operation } = {}): Promise<Obj[]> {
  const sent: Obj[] = [];
  await admitManifests(parseManifests(yaml, 'in.yaml'), {
    target: { url: new URL('https://127.0.0.1:1/validate'), timeoutMs: 1000 },
    operation: 'CREATE',
    dryRun: false,
    user: KUBERNETES_ADMIN,
    maxPods: 1,
    nodeName: 'node-1',
    names: seededNames(7),
    now: () => new Date('2026-12-06T14:03:27.512Z'),
    send: async (review) => {
      sent.push(review);
      return { ok: true, response: { allowed: true } };
    },
    ...o,
  });
  return sent.map((r) => r['request'] as Obj);
}

const workload = (kind: string, apiVersion: string, spec: string) => `apiVersion: ${apiVersion}
kind: ${kind}
metadata: { name: w, namespace: prod }
spec:
${spec}
`;
const TEMPLATE = `  template:
    metadata: { labels: { app: w } }
    spec:
      containers: [{ name: c, image: nginx }]`;

describe('admit: manifests', () => {
  it('numbers documents from 1 with their line, List items from 1, and names the problem', () => {
    const objs = parseManifests(
      `# header\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }\n---\napiVersion: v1\nkind: List\nitems:\n  - { apiVersion: v1, kind: Secret, metadata: { name: b } }\n`,
      'f.yaml',
    );
    assert.deepEqual(
      objs.map((o) => [o.document, o.item ?? null, o.line, o.object.kind]),
      [
        [1, null, 3, 'ConfigMap'],
        [2, 1, 7, 'Secret'],
      ],
    );
    const bad = (text: string, message: string) =>
      assert.throws(
        () => parseManifests(text, 'f.yaml'),
        (e: unknown) => e instanceof InputError && e.message === message,
      );
    bad(
      'apiVersion: v1\nkind: Pod\nmetadata: { name: a }\n---\nkind: [\n',
      'f.yaml: document 2: line 5: Flow sequence in block collection must be sufficiently indented and end with a ]',
    );
    bad('apiVersion: v1\nmetadata: { name: a }\n', 'f.yaml: document 1 (line 1): kind is missing or not a string');
    bad(
      'apiVersion: apps/v1/x\nkind: Deployment\nmetadata: { name: a }\n',
      'f.yaml: document 1 (line 1): apiVersion "apps/v1/x" is not a version or group/version (e.g. v1, apps/v1)',
    );
    bad(
      '- 1\n- 2\n',
      'f.yaml: document 1 (line 1): not a Kubernetes object (a mapping with apiVersion, kind and metadata)',
    );
    bad(
      '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": 5}}',
      'f.yaml: document 1 (line 1): metadata.name is not a string',
    );
    bad('{"apiVersion": ', 'f.yaml: document 1: line 1: not valid JSON: Unexpected end of JSON input');
  });

  it('an object in another namespace than -n is refused as kubectl refuses it; a cluster-scoped one has none', async () => {
    await assert.rejects(
      run('apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a, namespace: x }\n', { namespace: 'y' }),
      /in\.yaml: document 1 \(line 1\): the namespace from the provided object "x" does not match the namespace "y"/,
    );
    const [ns] = await admitManifests(
      parseManifests('apiVersion: v1\nkind: Namespace\nmetadata: { name: shop, namespace: ignored }\n', 'ns.yaml'),
      {
        target: { url: new URL('https://127.0.0.1:1/validate'), timeoutMs: 1000 },
        operation: 'CREATE',
        dryRun: false,
        user: KUBERNETES_ADMIN,
        maxPods: 1,
        nodeName: 'n',
        send: () => assert.fail('a Namespace is not sent to the agent'),
      },
    );
    assert.equal(ns!.namespace, undefined);
    assert.equal(ns!.sent, false);
    assert.equal((ns!.review!['request'] as Obj)['object'].metadata.namespace, undefined);
    assert.deepEqual((ns!.review!['request'] as Obj)['resource'], { group: '', version: 'v1', resource: 'namespaces' });
  });

  it("kinds the agent's webhook configuration does not match are not sent", async () => {
    const sent = await run(
      'apiVersion: v1\nkind: Service\nmetadata: { name: s }\nspec: { ports: [{ port: 80 }] }\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: { name: i }\nspec: {}\n',
    );
    assert.deepEqual(
      sent.map((r) => r['resource'].resource),
      ['ingresses'],
    );
  });
});

describe('admit: the controller chain, users and answers', () => {
  it('Deployment: a ReplicaSet named by the template hash, min(replicas, maxPods) pods with generated names', async () => {
    const reqs = await run(
      workload('Deployment', 'apps/v1', `  replicas: 5\n  selector: { matchLabels: { app: w } }\n${TEMPLATE}`),
      { maxPods: 3 },
    );
    assert.deepEqual(
      reqs.map((r) => r['kind'].kind),
      ['Deployment', 'ReplicaSet', 'Pod', 'Pod', 'Pod'],
    );
    const rs = reqs[1]!['object'];
    const hash = templateHash(reqs[0]!['object'].spec.template);
    assert.equal(rs.metadata.name, `w-${hash}`);
    assert.deepEqual(rs.spec.selector.matchLabels, { app: 'w', 'pod-template-hash': hash });
    assert.equal(rs.spec.replicas, 5);
    const names = reqs.slice(2).map((r) => r['object'].metadata.name as string);
    for (const n of names) assert.match(n, new RegExp(`^w-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
    assert.equal(new Set(names).size, 3);
    // a template without a tag pulls Always, the ServiceAccount plugin mounted its token in the pod only
    const pod = reqs[2]!['object'];
    assert.equal(pod.spec.containers[0].imagePullPolicy, 'Always');
    assert.deepEqual(pod.spec.containers[0].volumeMounts, [
      { name: pod.spec.volumes[0].name, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
    ]);
    assert.equal(reqs[0]!['object'].spec.template.spec.volumes, undefined);
  });

  it('the same template hashes the same, a changed one differently', () => {
    const t = { metadata: { labels: { a: '1' } }, spec: { containers: [{ name: 'c', image: 'x:1' }] } };
    assert.equal(
      templateHash(t),
      templateHash({ spec: { containers: [{ image: 'x:1', name: 'c' }] }, metadata: { labels: { a: '1' } } }),
    );
    assert.notEqual(templateHash(t), templateHash({ ...t, spec: { containers: [{ name: 'c', image: 'x:2' }] } }));
  });

  it('automountServiceAccountToken: false keeps the token volume out', async () => {
    const reqs = await run(
      workload(
        'ReplicaSet',
        'apps/v1',
        `  selector: { matchLabels: { app: w } }\n  template:\n    metadata: { labels: { app: w } }\n    spec:\n      automountServiceAccountToken: false\n      containers: [{ name: c, image: nginx:1.27 }]`,
      ),
    );
    const pod = reqs[1]!['object'];
    assert.equal(pod.spec.volumes, undefined);
    assert.equal(pod.spec.containers[0].volumeMounts, undefined);
    assert.equal(pod.spec.containers[0].imagePullPolicy, 'IfNotPresent');
  });

  it('CronJob -> Job <name>-<minutes> with the job selector labels -> Pod; Indexed Jobs name their pods by index', async () => {
    const reqs = await run(
      workload(
        'CronJob',
        'batch/v1',
        `  schedule: "0 * * * *"\n  jobTemplate:\n    spec:\n${TEMPLATE.replace(/^/gm, '    ').replace('containers:', 'restartPolicy: Never\n          containers:')}`,
      ),
    );
    assert.deepEqual(
      reqs.map((r) => [r['kind'].kind, r['userInfo'].username.split(':').pop()]),
      [
        ['CronJob', 'kubernetes-admin'],
        ['Job', 'cronjob-controller'],
        ['Pod', 'job-controller'],
      ],
    );
    const job = reqs[1]!['object'];
    assert.equal(job.metadata.name, `w-${Math.floor(Date.parse('2026-12-06T14:03:00Z') / 60_000)}`);
    assert.equal(job.metadata.annotations['batch.kubernetes.io/cronjob-scheduled-timestamp'], '2026-12-06T14:03:00Z');
    assert.equal(reqs[2]!['object'].metadata.labels['job-name'], job.metadata.name);
    const indexed = await run(
      workload(
        'Job',
        'batch/v1',
        `  completionMode: Indexed\n  completions: 3\n  parallelism: 3\n${TEMPLATE.replace('containers:', 'restartPolicy: Never\n      containers:')}`,
      ),
      { maxPods: 2 },
    );
    assert.deepEqual(
      indexed.slice(1).map((r) => r['object'].metadata.labels['batch.kubernetes.io/job-completion-index']),
      ['0', '1'],
    );
    assert.match(indexed[2]!['object'].metadata.name, /^w-1-\w{5}$/);
  });

  it('StatefulSet pods are <name>-0..n-1 with hostname, subdomain and their claims; a DaemonSet pod is pinned to the node', async () => {
    const sts = await run(
      workload(
        'StatefulSet',
        'apps/v1',
        `  replicas: 2\n  serviceName: svc\n  selector: { matchLabels: { app: w } }\n${TEMPLATE}\n  volumeClaimTemplates: [{ metadata: { name: data }, spec: {} }]`,
      ),
      { maxPods: 5 },
    );
    assert.deepEqual(
      sts
        .slice(1)
        .map((r) => [
          r['name'],
          r['object'].spec.hostname,
          r['object'].spec.subdomain,
          r['object'].spec.volumes[0].persistentVolumeClaim.claimName,
        ]),
      [
        ['w-0', 'w-0', 'svc', 'data-w-0'],
        ['w-1', 'w-1', 'svc', 'data-w-1'],
      ],
    );
    const ds = await run(workload('DaemonSet', 'apps/v1', `  selector: { matchLabels: { app: w } }\n${TEMPLATE}`), {
      maxPods: 5,
      nodeName: 'aks-pool-0',
    });
    assert.equal(ds.length, 2);
    const pod = ds[1]!['object'];
    assert.deepEqual(
      pod.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0]
        .values,
      ['aks-pool-0'],
    );
    assert.ok(pod.spec.tolerations.some((t: Obj) => t['key'] === 'node.kubernetes.io/unschedulable'));
    assert.equal(ds[1]!['userInfo'].username, 'system:serviceaccount:kube-system:daemon-set-controller');
  });

  it('a denial stops the chain; a dry run has no chain; an UPDATE rolls out only a changed template', async () => {
    const yaml = workload('Deployment', 'apps/v1', `  selector: { matchLabels: { app: w } }\n${TEMPLATE}`);
    const denied: Obj[] = [];
    await admitManifests(parseManifests(yaml, 'in.yaml'), {
      target: { url: new URL('https://127.0.0.1:1/validate'), timeoutMs: 1000 },
      operation: 'CREATE',
      dryRun: false,
      user: KUBERNETES_ADMIN,
      maxPods: 1,
      nodeName: 'n',
      send: async (review) => {
        denied.push(review);
        return { ok: true, response: { allowed: false, status: { code: 403, message: 'no' } } };
      },
    });
    assert.equal(denied.length, 1);
    const dry = await run(yaml, { dryRun: true });
    assert.deepEqual(
      dry.map((r) => [r['kind'].kind, r['dryRun'], r['options'].dryRun]),
      [['Deployment', true, ['All']]],
    );
    assert.equal((await run(yaml, { operation: 'UPDATE' })).length, 1);
    const old = parseManifests(yaml.replace('image: nginx', 'image: nginx:1.26'), 'old.yaml');
    const rollout = await run(yaml, { operation: 'UPDATE', oldObjects: old });
    assert.deepEqual(
      rollout.map((r) => [r['operation'], r['kind'].kind]),
      [
        ['UPDATE', 'Deployment'],
        ['CREATE', 'ReplicaSet'],
        ['CREATE', 'Pod'],
      ],
    );
    assert.equal(rollout[0]!['oldObject'].spec.template.spec.containers[0].image, 'nginx:1.26');
    assert.equal(rollout[0]!['object'].metadata.generation, 2);
  });

  it('a Pod UPDATE keeps the token volume the stored Pod has', async () => {
    const [update] = await run(
      'apiVersion: v1\nkind: Pod\nmetadata: { name: p }\nspec: { containers: [{ name: c, image: nginx:1.27 }] }\n',
      { operation: 'UPDATE' },
    );
    assert.match(update!['oldObject'].spec.volumes[0].name, /^kube-api-access-\w{5}$/);
    assert.deepEqual(update!['object'].spec, update!['oldObject'].spec);
  });

  it("an answer is read as kube-apiserver reads it: its uid, printable warnings only, a denial's code at least 400", () => {
    const answer = (response: unknown, uid = 'u1') =>
      readAnswer(200, JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }), uid);
    assert.deepEqual(answer({ uid: 'u2', allowed: true }), {
      ok: false,
      error: 'expected response.uid="u1", got "u2"',
    });
    assert.deepEqual(readAnswer(500, '{}', 'u1'), { ok: false, error: 'the server responded with HTTP 500' });
    assert.deepEqual(
      readAnswer(
        200,
        '{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","response":{"uid":"u1","allowed":true}}',
        'u1',
      ),
      { ok: false, error: 'expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview' },
    );
    const ok = answer({ uid: 'u1', allowed: true, warnings: ['fine', 'two\nlines', '\u001b[31mred', ''] });
    assert.deepEqual(ok.ok && ok.response.warnings, ['fine']);
    const denied = answer({ uid: 'u1', allowed: false, status: { code: 200, message: 'no\n- \u001b[2Jbecause' } });
    assert.ok(denied.ok);
    const status = deniedStatus('validate.portcullis.dev', { response: denied.response } as AdmitResult);
    assert.deepEqual(status, {
      code: 400,
      reason: '',
      message: 'admission webhook "validate.portcullis.dev" denied the request: no\n- \\u001b[2Jbecause',
    });
    assert.equal(
      deniedStatus('w', { response: { allowed: false } } as AdmitResult).message,
      'admission webhook "w" denied the request without explanation',
    );
  });

  it("--as: impersonation adds system:authenticated, and a service account's groups", () => {
    assert.deepEqual(impersonatedUser('alice', []).groups, ['system:authenticated']);
    assert.deepEqual(impersonatedUser('system:serviceaccount:ci:deployer', ['x']).groups, [
      'x',
      'system:serviceaccounts',
      'system:serviceaccounts:ci',
      'system:authenticated',
    ]);
  });
});
