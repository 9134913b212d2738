import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '@portcullis/config';
import { compilePolicies, defaultRuleConfigs, evaluatePolicies } from '@portcullis/policy-engine';
import { SnapshotHasher, prepareSnapshot } from '@portcullis/contracts';
import { podSnapshot } from './support';

const ADMISSION = path.resolve(repoRoot(), '..', 'shared', 'fixtures', 'admission');
const TOKEN_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

type Pod = {
  metadata: Record<string, unknown>;
  spec: {
    volumes: Array<Record<string, unknown>>;
    containers: Array<{ volumeMounts?: Array<Record<string, unknown>> }>;
  };
};
const stored = (snapshot: Record<string, unknown>) => JSON.parse(prepareSnapshot(snapshot).canonical) as Pod;

describe('stored admission snapshots', () => {
  it('replicas of one pod template share one snapshot: generated name, uid, creation time and token volume name are not part of it', () => {
    const a = podSnapshot('shop', 'web-7d9c5b6f4');
    const b = podSnapshot('shop', 'web-7d9c5b6f4');
    assert.notEqual(
      (a['spec'] as Pod['spec']).volumes[0]!['name'],
      (b['spec'] as Pod['spec']).volumes[0]!['name'],
      'the fixture gives each replica its own token volume',
    );
    assert.equal(prepareSnapshot(a).hash, prepareSnapshot(b).hash);
    const hasher = new SnapshotHasher();
    assert.equal(hasher.hash(a).hash, prepareSnapshot(a).hash, 'the ingest hasher stores the same form');
    assert.equal(hasher.hash(b).hash, prepareSnapshot(a).hash);

    const s = stored(a);
    assert.deepEqual(Object.keys(s.metadata).sort(), ['generateName', 'namespace']);
    assert.equal(s.spec.volumes[0]!['name'], 'kube-api-access');
    assert.deepEqual(s.spec.containers[0]!.volumeMounts, [
      { mountPath: TOKEN_MOUNT, name: 'kube-api-access', readOnly: true },
    ]);
  });

  it('pods that differ in anything a rule could read keep different snapshots', () => {
    const base = podSnapshot('shop', 'web');
    const other = podSnapshot('shop', 'web', { spec: { ...(base['spec'] as object), hostNetwork: true } });
    assert.notEqual(prepareSnapshot(base).hash, prepareSnapshot(other).hash);
  });

  it('renames only the projected token volume kube-apiserver injects, and only where the name is free', () => {
    const secretVolume = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'n' },
      spec: {
        containers: [{ name: 'c', image: 'i', volumeMounts: [{ name: 'kube-api-access-abcde', mountPath: '/x' }] }],
        volumes: [{ name: 'kube-api-access-abcde', secret: { secretName: 's' } }],
      },
    };
    assert.equal(
      stored(secretVolume).spec.volumes[0]!['name'],
      'kube-api-access-abcde',
      'a secret volume is not the injected token',
    );

    const taken = {
      ...secretVolume,
      spec: {
        ...secretVolume.spec,
        volumes: [
          { name: 'kube-api-access-abcde', projected: { sources: [] } },
          { name: 'kube-api-access', emptyDir: {} },
        ],
      },
    };
    assert.deepEqual(
      stored(taken).spec.volumes.map((v) => v['name']),
      ['kube-api-access-abcde', 'kube-api-access'],
      'no two volumes end up with one name',
    );

    const template = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', namespace: 'n' },
      spec: {
        template: {
          spec: {
            containers: [{ name: 'c', image: 'i' }],
            volumes: [{ name: 'kube-api-access-abcde', projected: { sources: [] } }],
          },
        },
      },
    };
    assert.deepEqual(stored(template).spec, template.spec, 'a template has no injected token: left as it is');
  });

  it(
    'a stored snapshot of a real pod is evaluated as the pod itself was',
    { skip: fs.existsSync(ADMISSION) ? false : '../shared/fixtures/admission is not beside this clone' },
    () => {
      const review = JSON.parse(
        fs.readFileSync(path.join(ADMISSION, 'kubewarden-pod-privileged-create.json'), 'utf8'),
      ) as { request: { object: Record<string, unknown> } };
      const pod = review.request.object;
      const projected = { ...pod, spec: tokenProjected(pod['spec'] as Pod['spec'], 'kube-api-access-x7k2q') };
      const snapshot = stored(projected);
      assert.equal(snapshot.spec.volumes.find((v) => v['projected'])!['name'], 'kube-api-access');
      assert.equal(snapshot.metadata['uid'], undefined);
      const findings = (o: unknown) =>
        evaluateDefault(o)
          .map((v) => `${v.rule}/${v.container ?? ''}/${v.path}`)
          .sort();
      assert.ok(findings(projected).length > 0, 'the privileged pod breaks rules');
      assert.deepEqual(findings(snapshot), findings(projected));
    },
  );
});

/** The spec as a current cluster would admit it: the legacy token secret replaced by the projected token volume. */
function tokenProjected(spec: Pod['spec'], name: string): Pod['spec'] {
  const legacy = spec.volumes[0]!['name'];
  const rename = (m: Record<string, unknown>) => (m['name'] === legacy ? { ...m, name } : m);
  return {
    ...spec,
    volumes: [
      {
        name,
        projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }] },
      },
    ],
    containers: spec.containers.map((c) => ({ ...c, volumeMounts: (c.volumeMounts ?? []).map(rename) })),
  };
}

/** Every default misconfiguration rule, Block. */
const DEFAULT = compilePolicies([
  {
    id: 'default',
    name: 'Default',
    type: 'MISCONFIGURATION',
    action: 'BLOCK',
    namespaces: { include: [], exclude: [] },
    rules: defaultRuleConfigs('MISCONFIGURATION'),
    exemptions: [],
  },
]);

function evaluateDefault(object: unknown) {
  return evaluatePolicies(object, DEFAULT, { defaultNamespace: 'default', now: new Date() }).violations;
}
