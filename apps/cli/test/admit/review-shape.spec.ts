import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseReview } from '@portcullis/admission';
import { SHARED, SHARED_MISSING, readJson } from '@portcullis/testing';
import { KUBERNETES_ADMIN, admitManifests, parseManifests, seededNames, type Operation } from '../../src/admit';

// fixtures and reviews are read as free JSON
type Obj = Record<string, any>;

/** The reviews `admit` would send for a manifest, captured at the port where they would leave. */
async function reviewsFor(manifest: unknown, operation: Operation = 'CREATE', maxPods = 1): Promise<Obj[]> {
  const sent: Obj[] = [];
  await admitManifests(parseManifests(JSON.stringify(manifest), 'm.json'), {
    target: { url: new URL('https://127.0.0.1:1/validate'), timeoutMs: 1000 },
    operation,
    dryRun: false,
    user: KUBERNETES_ADMIN,
    maxPods,
    nodeName: 'node-1',
    names: seededNames(42),
    send: async (review) => {
      sent.push(review);
      return { ok: true, response: { allowed: true } };
    },
  });
  return sent;
}

const ADMISSION = path.join(SHARED, 'admission');
const sample = (file: string): Obj => {
  const j = readJson(path.join(ADMISSION, file)) as Obj;
  return j['request'] ? j : { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: j };
};

/** What a user wrote, recovered from what kube-apiserver stored: server-set and defaulted fields removed. */
function asWritten(stored: Obj): Obj {
  const o = structuredClone(stored);
  for (const k of ['uid', 'creationTimestamp', 'managedFields', 'resourceVersion', 'generation']) delete o.metadata[k];
  delete o.status;
  const spec = o.spec?.template?.spec ?? o.spec;
  for (const k of [
    'restartPolicy',
    'terminationGracePeriodSeconds',
    'dnsPolicy',
    'serviceAccountName',
    'serviceAccount',
    'securityContext',
    'schedulerName',
    'priority',
    'enableServiceLinks',
    'preemptionPolicy',
  ])
    delete spec[k];
  spec.tolerations = (spec.tolerations ?? []).filter((t: Obj) => !String(t.key).startsWith('node.kubernetes.io/'));
  const token = (spec.volumes ?? []).find((v: Obj) => /token|kube-api-access/.test(v.name))?.name;
  spec.volumes = (spec.volumes ?? []).filter((v: Obj) => v.name !== token);
  if (spec.volumes.length === 0) delete spec.volumes;
  for (const c of spec.containers) {
    for (const k of ['terminationMessagePath', 'terminationMessagePolicy']) delete c[k];
    c.volumeMounts = (c.volumeMounts ?? []).filter((m: Obj) => m.name !== token);
    if (c.volumeMounts.length === 0) delete c.volumeMounts;
    if (Object.keys(c.resources ?? {}).length === 0) delete c.resources;
  }
  return o;
}

describe(
  'admit: reviews shaped as kube-apiserver sends them (../shared/fixtures/admission)',
  { skip: SHARED_MISSING },
  () => {
    it("a Pod CREATE has the real capture's request fields, in its order, and the object the API server stored", async () => {
      const real = sample('kubewarden-pod-unprivileged-create.json');
      const [ours] = await reviewsFor(asWritten(real.request.object));
      assert.deepEqual(Object.keys(ours!), ['kind', 'apiVersion', 'request']);
      assert.deepEqual(Object.keys(ours!.request), Object.keys(real.request));
      for (const k of [
        'kind',
        'resource',
        'requestKind',
        'requestResource',
        'name',
        'namespace',
        'operation',
        'oldObject',
        'dryRun',
      ])
        assert.deepEqual(ours!.request[k], real.request[k], k);
      // kubeadm's admin is in kubeadm:cluster-admins since 1.29 (the capture's is in system:masters)
      assert.equal(ours!.request.userInfo.username, real.request.userInfo.username);
      assert.deepEqual(ours!.request.options, { ...real.request.options, fieldManager: 'kubectl-client-side-apply' });
      const [o, r] = [ours!.request.object, real.request.object];
      assert.deepEqual(Object.keys(o.spec).sort(), Object.keys(r.spec).sort());
      for (const k of [
        'restartPolicy',
        'terminationGracePeriodSeconds',
        'dnsPolicy',
        'serviceAccountName',
        'serviceAccount',
        'securityContext',
        'schedulerName',
        'priority',
        'enableServiceLinks',
        'preemptionPolicy',
      ])
        assert.deepEqual(o.spec[k], r.spec[k], `spec.${k}`);
      assert.deepEqual(
        new Set(o.spec.tolerations.map(JSON.stringify)),
        new Set(r.spec.tolerations.map(JSON.stringify)),
      );
      o.spec.containers.forEach((c: Obj, i: number) => {
        const rc = r.spec.containers[i];
        assert.deepEqual(Object.keys(c).sort(), Object.keys(rc).sort(), `container ${c.name}`);
        for (const k of ['terminationMessagePath', 'terminationMessagePolicy', 'imagePullPolicy', 'resources'])
          assert.deepEqual(c[k], rc[k], `${c.name}.${k}`);
        // the token is a projected kube-api-access volume since Kubernetes 1.22 (the capture predates it): same mount
        assert.deepEqual(
          c.volumeMounts.map((m: Obj) => [m.readOnly, m.mountPath]),
          rc.volumeMounts.map((m: Obj) => [m.readOnly, m.mountPath]),
        );
      });
      assert.match(o.spec.volumes[0].name, /^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      assert.deepEqual(o.status, r.status);
      for (const k of Object.keys(r.metadata).filter((k) => k !== 'managedFields'))
        assert.ok(k in o.metadata, `metadata.${k}`);
      const parsed = parseReview(JSON.stringify(ours));
      assert.ok(parsed.ok && parsed.request.name === 'nginx' && parsed.request.username === 'kubernetes-admin');
    });

    it("an UPDATE has the captured UPDATE's fields; a DELETE the captured DELETE's, with object null", async () => {
      const update = sample('kubewarden-echo-deployment-update.request.json');
      const [ours] = await reviewsFor(asWritten(update.request.object), 'UPDATE');
      assert.deepEqual(Object.keys(ours!.request).sort(), Object.keys(update.request).sort());
      assert.deepEqual(ours!.request.options, {
        apiVersion: 'meta.k8s.io/v1',
        kind: 'UpdateOptions',
        fieldManager: 'kubectl-client-side-apply',
      });
      assert.equal(
        ours!.request.object.metadata.uid,
        ours!.request.oldObject.metadata.uid,
        'the same object, before and after',
      );
      const del = sample('kubewarden-echo-deployment-delete.request.json');
      const [gone] = await reviewsFor(asWritten(del.request.oldObject), 'DELETE');
      assert.deepEqual(Object.keys(gone!.request).sort(), [...Object.keys(del.request), 'object'].sort());
      assert.equal(gone!.request.object, null);
      assert.deepEqual(gone!.request.options, del.request.options);
      assert.equal(gone!.request.oldObject.spec.template.spec.containers[0].image, 'nginx:latest');
      const parsed = parseReview(JSON.stringify(gone));
      assert.ok(parsed.ok && parsed.request.operation === 'DELETE' && parsed.request.name === 'nginx');
    });

    it("a Deployment's chain: every review is one the agent reads, each made by the controller that would make it", async () => {
      const deployment = sample('kubewarden-deployment-create.json');
      const reviews = await reviewsFor(deployment.request.object, 'CREATE', 2);
      assert.deepEqual(
        reviews.map((r) => [r.request.kind.kind, r.request.resource.resource, r.request.userInfo.username]),
        [
          ['Deployment', 'deployments', 'kubernetes-admin'],
          ['ReplicaSet', 'replicasets', 'system:serviceaccount:kube-system:deployment-controller'],
          ['Pod', 'pods', 'system:serviceaccount:kube-system:replicaset-controller'],
        ],
      );
      assert.deepEqual(
        Object.keys(reviews[0]!.request).filter((k) => k in deployment.request),
        Object.keys(deployment.request),
      );
      for (const r of reviews) assert.ok(parseReview(JSON.stringify(r)).ok);
      const [d, rs, pod] = reviews.map((r) => r.request.object);
      // replicas: 1 in the sample, so one pod even with --max-pods 2
      assert.equal(rs.metadata.ownerReferences[0].uid, d.metadata.uid);
      assert.equal(pod.metadata.ownerReferences[0].uid, rs.metadata.uid);
      assert.equal(pod.metadata.generateName, `${rs.metadata.name}-`);
      assert.equal(reviews[2]!.request.name, undefined, 'a generated name is not in request.name');
      assert.equal(pod.metadata.labels['pod-template-hash'], rs.metadata.name.slice('api-'.length));
      assert.equal(pod.metadata.namespace, 'customer-1');
    });

    it('the CronJob capture (no namespace, no name in the request) goes through the chain in namespace default', async () => {
      const cron = sample('kubewarden-cronjob-create.request.json');
      const reviews = await reviewsFor({ apiVersion: 'batch/v1', kind: 'CronJob', ...cron.request.object });
      assert.deepEqual(
        reviews.map((r) => [r.request.kind.kind, r.request.namespace]),
        [
          ['CronJob', 'default'],
          ['Job', 'default'],
          ['Pod', 'default'],
        ],
      );
      const job = reviews[1]!.request.object;
      assert.equal(job.spec.template.metadata.labels['batch.kubernetes.io/job-name'], job.metadata.name);
      assert.equal(reviews[2]!.request.object.metadata.labels['batch.kubernetes.io/controller-uid'], job.metadata.uid);
    });
  },
);
