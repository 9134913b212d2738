/**
 * inspectObject: every workload kind in every API group it has been served under,
 * Ingress, other namespaced kinds, cluster-scoped kinds, Lists, and malformed input
 * reported as `cannot-evaluate` with the field named.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspectObject, type InspectedObject } from '@portcullis/policy-engine';

const podSpec = () => ({
  containers: [{ name: 'app', image: 'nginx' }],
  initContainers: [{ name: 'init', image: 'busybox' }],
  ephemeralContainers: [{ name: 'debug', image: 'busybox' }],
});
const template = () => ({ metadata: { annotations: { team: 'a' } }, spec: podSpec() });
const meta = { name: 'w', namespace: 'apps', labels: { app: 'w' } };

function pod(target: InspectedObject) {
  assert.equal(target.status, 'pod', JSON.stringify(target));
  return target as Extract<InspectedObject, { status: 'pod' }>;
}

describe('workload kinds in every API group', () => {
  const cases: Array<[string, string, Record<string, unknown>, string]> = [
    ['v1', 'Pod', { spec: podSpec() }, 'spec'],
    ['v1', 'PodTemplate', { template: template() }, 'template.spec'],
    ['v1', 'ReplicationController', { spec: { template: template() } }, 'spec.template.spec'],
    ['apps/v1', 'Deployment', { spec: { template: template() } }, 'spec.template.spec'],
    ['apps/v1beta2', 'Deployment', { spec: { template: template() } }, 'spec.template.spec'],
    ['extensions/v1beta1', 'Deployment', { spec: { template: template() } }, 'spec.template.spec'],
    ['apps/v1', 'StatefulSet', { spec: { template: template() } }, 'spec.template.spec'],
    ['apps/v1beta1', 'StatefulSet', { spec: { template: template() } }, 'spec.template.spec'],
    ['apps/v1', 'DaemonSet', { spec: { template: template() } }, 'spec.template.spec'],
    ['extensions/v1beta1', 'DaemonSet', { spec: { template: template() } }, 'spec.template.spec'],
    ['apps/v1', 'ReplicaSet', { spec: { template: template() } }, 'spec.template.spec'],
    ['batch/v1', 'Job', { spec: { template: template() } }, 'spec.template.spec'],
    [
      'batch/v1',
      'CronJob',
      { spec: { jobTemplate: { spec: { template: template() } } } },
      'spec.jobTemplate.spec.template.spec',
    ],
    [
      'batch/v1beta1',
      'CronJob',
      { spec: { jobTemplate: { spec: { template: template() } } } },
      'spec.jobTemplate.spec.template.spec',
    ],
  ];
  for (const [apiVersion, kind, body, podPath] of cases) {
    it(`${apiVersion} ${kind}: pod spec at ${podPath}, all three container lists`, () => {
      const t = pod(inspectObject({ apiVersion, kind, metadata: meta, ...body }, 'default'));
      assert.equal(t.podPath, podPath);
      assert.deepEqual(t.ref, { apiVersion, kind, name: 'w', namespace: 'apps', labels: { app: 'w' } });
      assert.deepEqual(
        t.containers.map((c) => [c.type, c.name, c.path, c.image]),
        [
          ['containers', 'app', `${podPath}.containers[0]`, 'nginx'],
          ['initContainers', 'init', `${podPath}.initContainers[0]`, 'busybox'],
          ['ephemeralContainers', 'debug', `${podPath}.ephemeralContainers[0]`, 'busybox'],
        ],
      );
      assert.equal(t.podMetaPath, podPath.replace(/spec$/, 'metadata'));
      if (kind !== 'Pod') assert.deepEqual(t.podAnnotations, { team: 'a' });
      assert.equal(t.windows, false);
    });
  }
  it('a Pod takes its annotations from its own metadata; Windows is spec.os.name', () => {
    const t = pod(
      inspectObject(
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'p', annotations: { a: 'b', n: 1 } },
          spec: { os: { name: 'windows' }, containers: [] },
        },
        'default',
      ),
    );
    assert.deepEqual(t.podAnnotations, { a: 'b' });
    assert.equal(t.windows, true);
  });
  it('the namespace defaults to the caller default; generateName stands in for a name; a nameless container is named by its index', () => {
    const t = pod(
      inspectObject(
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { generateName: 'job-' },
          spec: { containers: [{ image: 'nginx' }] },
        },
        'team-a',
      ),
    );
    assert.equal(t.ref.namespace, 'team-a');
    assert.equal(t.ref.name, 'job-');
    assert.equal(t.containers[0]!.name, 'containers[0]');
    assert.equal(
      pod(inspectObject({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace: '' }, spec: {} }, 'team-b')).ref
        .namespace,
      'team-b',
    );
    assert.equal(pod(inspectObject({ apiVersion: 'v1', kind: 'Pod', spec: {} }, 'team-c')).ref.name, '');
  });
  it('non-string labels are dropped, not trusted', () => {
    const t = pod(
      inspectObject({ apiVersion: 'v1', kind: 'Pod', metadata: { labels: { a: 'x', b: 2, c: null } }, spec: {} }, 'd'),
    );
    assert.deepEqual(t.ref.labels, { a: 'x' });
  });
});

describe('Ingress', () => {
  for (const apiVersion of ['networking.k8s.io/v1', 'networking.k8s.io/v1beta1', 'extensions/v1beta1']) {
    it(apiVersion, () => {
      const t = inspectObject(
        {
          apiVersion,
          kind: 'Ingress',
          metadata: { name: 'web', annotations: { 'kubernetes.io/ingress.allow-http': 'false' } },
          spec: { tls: [] },
        },
        'apps',
      );
      assert.equal(t.status, 'ingress');
      assert.deepEqual((t as Extract<InspectedObject, { status: 'ingress' }>).annotations, {
        'kubernetes.io/ingress.allow-http': 'false',
      });
      assert.equal(t.ref?.namespace, 'apps');
    });
  }
  it('an Ingress of another API group (a custom resource) is just a namespaced object', () => {
    assert.equal(
      inspectObject({ apiVersion: 'example.com/v1', kind: 'Ingress', metadata: { name: 'x' } }, 'apps').status,
      'generic',
    );
  });
});

describe('other kinds', () => {
  for (const [apiVersion, kind] of [
    ['v1', 'Service'],
    ['v1', 'ConfigMap'],
    ['v1', 'Secret'],
    ['rbac.authorization.k8s.io/v1', 'Role'],
    ['networking.k8s.io/v1', 'NetworkPolicy'],
    ['monitoring.coreos.com/v1', 'ServiceMonitor'],
  ] as const) {
    it(`${kind} is namespaced: generic, for the namespace rules only`, () => {
      const t = inspectObject({ apiVersion, kind, metadata: { name: 'x' } }, 'default');
      assert.deepEqual(t, {
        status: 'generic',
        ref: { apiVersion, kind, name: 'x', namespace: 'default', labels: {} },
      });
    });
  }
  for (const [apiVersion, kind] of [
    ['v1', 'Namespace'],
    ['rbac.authorization.k8s.io/v1', 'ClusterRole'],
    ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding'],
    ['apiextensions.k8s.io/v1', 'CustomResourceDefinition'],
    ['scheduling.k8s.io/v1', 'PriorityClass'],
    ['storage.k8s.io/v1', 'StorageClass'],
    ['v1', 'PersistentVolume'],
    ['admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration'],
    ['cert-manager.io/v1', 'ClusterIssuer'],
  ] as const) {
    it(`${kind} is cluster-scoped: not applicable, never in a namespace`, () => {
      const t = inspectObject({ apiVersion, kind, metadata: { name: 'x', namespace: 'default' } }, 'default');
      assert.equal(t.status, 'not-applicable');
      assert.equal(t.ref?.namespace, undefined);
      assert.match((t as { reason: string }).reason, /cluster-scoped/);
    });
  }
  for (const kind of ['List', 'PodList', 'ConfigMapList']) {
    it(`${kind} is not applicable: its items are evaluated`, () => {
      const t = inspectObject({ apiVersion: 'v1', kind, items: [] }, 'default');
      assert.equal(t.status, 'not-applicable');
      assert.match((t as { reason: string }).reason, /items/);
    });
  }
});

describe('malformed input: cannot-evaluate, naming the field', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['a string', 'kind: Pod', /a string, not a Kubernetes object/],
    ['null', null, /null/],
    ['an array', [{ kind: 'Pod' }], /a list/],
    ['a number', 42, /a number/],
    ['no kind', { apiVersion: 'v1' }, /^kind is missing/],
    ['kind not a string', { apiVersion: 'v1', kind: 5 }, /^kind is missing or not a string/],
    ['no apiVersion', { kind: 'Pod' }, /^apiVersion is missing/],
    ['metadata a list', { apiVersion: 'v1', kind: 'Pod', metadata: [] }, /^metadata is not an object/],
    [
      'namespace a number',
      { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 7 } },
      /^metadata.namespace is not a string/,
    ],
    ['Pod without spec', { apiVersion: 'v1', kind: 'Pod' }, /^spec is missing or not an object/],
    [
      'Deployment spec a string',
      { apiVersion: 'apps/v1', kind: 'Deployment', spec: 'x' },
      /^spec is missing or not an object/,
    ],
    [
      'Deployment template missing',
      { apiVersion: 'apps/v1', kind: 'Deployment', spec: {} },
      /^spec.template is missing or not an object/,
    ],
    [
      'Deployment template a list',
      { apiVersion: 'apps/v1', kind: 'Deployment', spec: { template: [] } },
      /^spec.template is missing or not an object/,
    ],
    [
      'template without spec',
      { apiVersion: 'apps/v1', kind: 'Deployment', spec: { template: { metadata: {} } } },
      /^spec.template.spec is missing or not an object/,
    ],
    [
      'template metadata a string',
      { apiVersion: 'apps/v1', kind: 'Deployment', spec: { template: { metadata: 'x', spec: {} } } },
      /^spec.template.metadata is not an object/,
    ],
    [
      'CronJob jobTemplate missing',
      { apiVersion: 'batch/v1', kind: 'CronJob', spec: { schedule: '* * * * *' } },
      /^spec.jobTemplate is missing or not an object/,
    ],
    [
      'CronJob job template missing',
      { apiVersion: 'batch/v1', kind: 'CronJob', spec: { jobTemplate: { spec: {} } } },
      /^spec.jobTemplate.spec.template is missing or not an object/,
    ],
    [
      'PodTemplate without template',
      { apiVersion: 'v1', kind: 'PodTemplate' },
      /^template is missing or not an object/,
    ],
    [
      'pod securityContext a list',
      { apiVersion: 'v1', kind: 'Pod', spec: { securityContext: [] } },
      /^spec.securityContext is not an object/,
    ],
    [
      'containers an object',
      { apiVersion: 'v1', kind: 'Pod', spec: { containers: { name: 'a' } } },
      /^spec.containers is not a list/,
    ],
    [
      'a container a string',
      { apiVersion: 'batch/v1', kind: 'Job', spec: { template: { spec: { initContainers: [{ name: 'a' }, 'b'] } } } },
      /^spec.template.spec.initContainers\[1\] is not an object/,
    ],
    [
      'container securityContext a string',
      { apiVersion: 'v1', kind: 'Pod', spec: { ephemeralContainers: [{ name: 'a', securityContext: 'privileged' }] } },
      /^spec.ephemeralContainers\[0\].securityContext is not an object/,
    ],
  ];
  for (const [name, input, reason] of cases) {
    it(name, () => {
      const t = inspectObject(input, 'default');
      assert.equal(t.status, 'cannot-evaluate');
      assert.match((t as { reason: string }).reason, reason);
    });
  }
  it('a malformed workload still carries its ref, so a report can name it', () => {
    const t = inspectObject({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: {} }, 'apps');
    assert.deepEqual(t.ref, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'apps', labels: {} });
  });
  it('kind names that are Object.prototype members are ordinary kinds', () => {
    for (const kind of ['constructor', 'toString', '__proto__', 'hasOwnProperty'])
      assert.equal(inspectObject({ apiVersion: 'v1', kind, metadata: {} }, 'd').status, 'generic', kind);
  });
});
