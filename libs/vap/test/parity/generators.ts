// fast-check arbitraries for schema-valid pods and workloads whose fields hit every branch
// of the rules: security contexts at pod and container level, capabilities, users and
// groups, profiles, volumes, ports, probes, limits, images, owners, labels, namespaces.
import fc from 'fast-check';
import { requestFor, type VapRequest } from './cases';

/** Absent with probability 1/freq (fast-check option semantics): a higher freq makes the field more often present. */
const opt = <T>(arb: fc.Arbitrary<T>, freq = 2): fc.Arbitrary<T | undefined> =>
  fc.option(arb, { nil: undefined, freq });

/** Drops undefined members, so an absent field is absent (has() is false), as kube-apiserver sends it. */
function clean<T>(v: T): T {
  if (Array.isArray(v)) return v.map(clean) as T;
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = clean(x);
  return out as T;
}

const IMAGES = [
  'nginx',
  'nginx:1.27',
  'docker.io/library/nginx:latest',
  'index.docker.io/library/alpine',
  'alpine@sha256:' + 'a'.repeat(64),
  'quay.io/calico/node:v3.28',
  'Quay.IO/calico/node:v3',
  'registry.k8s.io/pause:3.9',
  'ghcr.io/kubewarden/policy-server:v1',
  'localhost:5000/team/app',
  'localhost/app',
  'my.registry:8443/a/b/c:1@sha256:' + 'b'.repeat(64),
  'bitnami/redis',
  'Nginx',
  'nginx:',
  'nginx@sha256:short',
  'example.com/UPPER/case',
  '[::1]:5000/x',
  'a..b',
  'nginx:latest extra',
  'busybox:1.36',
  'gcr.io/distroless/static',
];
const NAMESPACES = ['default', 'prod-payments', 'prod-sandbox', 'team-a', 'team-ab', 'kube-system', 'legacy', 'dev'];
const NAMES = ['web', 'api', 'calico-node', 'web-debug', 'worker', 'calico', 'job-1'];
const CAPS = [
  'ALL',
  'NET_BIND_SERVICE',
  'CAP_NET_BIND_SERVICE',
  'net_bind_service',
  'SYS_ADMIN',
  'NET_RAW',
  'CHOWN',
  'KILL',
  'CAP_KILL',
  'SYS_TIME',
];
const QUANTITIES = [
  '100m',
  '500m',
  '1',
  '1500m',
  '2',
  '3',
  '0.5',
  '128Mi',
  '512Mi',
  '536870912',
  '1Gi',
  '2Gi',
  '1G',
  '4Gi',
  '1e3',
  '1k',
];
const PROFILE_TYPES = ['RuntimeDefault', 'Localhost', 'Unconfined'];
const VOLUME_TYPES = [
  'configMap',
  'secret',
  'emptyDir',
  'hostPath',
  'nfs',
  'persistentVolumeClaim',
  'projected',
  'gitRepo',
  'csi',
  'image',
];

const ids = fc.constantFrom(0, 1, 999, 1000, 1500, 2000, 2500, 65534);
const profile = fc.record({ type: fc.constantFrom(...PROFILE_TYPES) });

const securityContext = (pod: boolean) =>
  fc
    .record({
      privileged: pod ? fc.constant(undefined) : opt(fc.boolean()),
      allowPrivilegeEscalation: pod ? fc.constant(undefined) : opt(fc.boolean()),
      readOnlyRootFilesystem: pod ? fc.constant(undefined) : opt(fc.boolean()),
      runAsNonRoot: opt(fc.boolean()),
      runAsUser: opt(ids),
      runAsGroup: opt(ids),
      fsGroup: pod ? opt(ids) : fc.constant(undefined),
      supplementalGroups: pod ? opt(fc.array(ids, { maxLength: 3 })) : fc.constant(undefined),
      capabilities: pod
        ? fc.constant(undefined)
        : opt(
            fc.record({
              add: opt(fc.array(fc.constantFrom(...CAPS), { maxLength: 3 })),
              drop: opt(fc.array(fc.constantFrom(...CAPS), { maxLength: 3 })),
            }),
            3,
          ),
      seccompProfile: opt(profile),
      appArmorProfile: opt(profile, 4),
      seLinuxOptions: opt(
        fc.record({
          type: opt(fc.constantFrom('', 'container_t', 'container_init_t', 'spc_t', 'unconfined_t')),
          user: opt(fc.constantFrom('', 'system_u')),
          role: opt(fc.constantFrom('', 'system_r')),
        }),
        4,
      ),
      procMount: pod ? fc.constant(undefined) : opt(fc.constantFrom('Default', 'Unmasked'), 4),
      windowsOptions: opt(fc.record({ hostProcess: opt(fc.boolean()) }), 6),
      sysctls: pod
        ? opt(
            fc.array(
              fc.record({
                name: fc.constantFrom(
                  'kernel.shm_rmid_forced',
                  'net.core.somaxconn',
                  'net.ipv4.tcp_syncookies',
                  'kernel.msgmax',
                ),
                value: fc.constant('1'),
              }),
              { maxLength: 2 },
            ),
            4,
          )
        : fc.constant(undefined),
    })
    .map(clean);

const probe = fc.record({
  httpGet: opt(fc.record({ port: fc.constant(8080), host: opt(fc.constantFrom('', 'example.com', '127.0.0.1')) }), 2),
  tcpSocket: opt(fc.record({ port: fc.constant(8080), host: opt(fc.constantFrom('', 'db')) }), 3),
});

const container = (name: string, ephemeral: boolean) =>
  fc
    .record({
      name: fc.constant(name),
      image: opt(fc.constantFrom(...IMAGES), 12),
      securityContext: opt(securityContext(false), 5),
      resources: ephemeral
        ? fc.constant(undefined)
        : opt(
            fc.record({
              limits: opt(
                fc.record({
                  cpu: opt(fc.constantFrom(...QUANTITIES), 4),
                  memory: opt(fc.constantFrom(...QUANTITIES), 4),
                }),
                6,
              ),
            }),
            5,
          ),
      ports: ephemeral
        ? fc.constant(undefined)
        : opt(
            fc.array(fc.record({ containerPort: fc.constant(80), hostPort: opt(fc.constantFrom(0, 80, 443, 9000)) }), {
              maxLength: 2,
            }),
            3,
          ),
      livenessProbe: ephemeral ? fc.constant(undefined) : opt(probe, 3),
      startupProbe: ephemeral ? fc.constant(undefined) : opt(probe, 6),
      lifecycle: ephemeral ? fc.constant(undefined) : opt(fc.record({ preStop: opt(probe, 2) }), 6),
    })
    .map(clean);

const volume = (i: number) =>
  fc.constantFrom(...VOLUME_TYPES).map((type) => ({
    name: `v${i}`,
    [type]:
      type === 'hostPath'
        ? { path: '/var/run' }
        : type === 'nfs'
          ? { server: 'nfs', path: '/' }
          : type === 'gitRepo'
            ? { repository: 'x' }
            : type === 'csi'
              ? { driver: 'd' }
              : type === 'image'
                ? { reference: 'x' }
                : type === 'persistentVolumeClaim'
                  ? { claimName: 'c' }
                  : {},
  }));

export const podSpec = fc
  .record({
    nContainers: fc.integer({ min: 1, max: 3 }),
    nInit: fc.integer({ min: 0, max: 2 }),
    nEphemeral: fc.integer({ min: 0, max: 1 }),
    nVolumes: fc.integer({ min: 0, max: 3 }),
  })
  .chain(({ nContainers, nInit, nEphemeral, nVolumes }) =>
    fc
      .record({
        containers: fc.tuple(...Array.from({ length: nContainers }, (_, i) => container(`c${i}`, false))),
        initContainers: nInit
          ? fc.tuple(...Array.from({ length: nInit }, (_, i) => container(`init${i}`, false)))
          : fc.constant(undefined),
        ephemeralContainers: nEphemeral ? fc.tuple(container('debugger', true)) : fc.constant(undefined),
        volumes: nVolumes ? fc.tuple(...Array.from({ length: nVolumes }, (_, i) => volume(i))) : fc.constant(undefined),
        securityContext: opt(securityContext(true), 3),
        hostPID: opt(fc.boolean(), 4),
        hostIPC: opt(fc.boolean(), 5),
        hostNetwork: opt(fc.boolean(), 4),
        hostUsers: opt(fc.boolean(), 3),
        automountServiceAccountToken: opt(fc.boolean(), 2),
        os: opt(fc.record({ name: fc.constantFrom('linux', 'windows') }), 5),
      })
      .map(clean),
  );

const metadata = fc
  .record({
    name: fc.constantFrom(...NAMES),
    namespace: fc.constantFrom(...NAMESPACES),
    labels: opt(
      fc.record({ team: opt(fc.constantFrom('net', 'web')), 'pod-template-hash': opt(fc.constant('5d4f8b')) }),
      2,
    ),
    annotations: opt(
      fc.dictionary(
        fc.constantFrom(
          'container.apparmor.security.beta.kubernetes.io/c0',
          'container.apparmor.security.beta.kubernetes.io/init0',
          'container.apparmor.security.beta.kubernetes.io/ghost',
          'kubernetes.io/ingress.allow-http',
          'other',
        ),
        fc.constantFrom('', 'runtime/default', 'localhost/custom', 'unconfined', 'false', 'true'),
        { maxKeys: 2 },
      ),
      3,
    ),
    ownerReferences: opt(
      fc.tuple(
        fc.record({
          apiVersion: fc.constant('apps/v1'),
          kind: fc.constantFrom('ReplicaSet', 'Job', 'DaemonSet', 'StatefulSet'),
          name: fc.constantFrom('web-5d4f8b', 'calico-node-5d4f8b', 'api-28800000', 'nightly-28800000', 'worker'),
          uid: fc.constant('u-1'),
          controller: opt(fc.boolean()),
        }),
      ),
      3,
    ),
  })
  .map(clean);

const WORKLOADS = [
  'Pod',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'ReplicationController',
  'Job',
  'CronJob',
  'PodTemplate',
] as const;
const API_VERSION: Record<string, string> = {
  Pod: 'v1',
  ReplicationController: 'v1',
  PodTemplate: 'v1',
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  ReplicaSet: 'apps/v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
};

/** A pod or workload, as the admission request kube-apiserver would send (some pods through `kubectl debug`). */
export const workloadRequest: fc.Arbitrary<VapRequest> = fc
  .record({
    kind: fc.constantFrom(...WORKLOADS),
    metadata,
    templateMeta: opt(
      metadata.map((m) => ({ labels: m.labels, annotations: m.annotations })),
      2,
    ),
    spec: podSpec,
    debug: fc.boolean(),
  })
  .map(({ kind, metadata: meta, templateMeta, spec, debug }) => {
    const template = clean({ metadata: templateMeta, spec });
    const object: Record<string, unknown> =
      kind === 'Pod'
        ? { apiVersion: 'v1', kind, metadata: meta, spec }
        : kind === 'PodTemplate'
          ? { apiVersion: 'v1', kind, metadata: meta, template }
          : kind === 'CronJob'
            ? {
                apiVersion: API_VERSION[kind],
                kind,
                metadata: meta,
                spec: { schedule: '* * * * *', jobTemplate: { spec: { template } } },
              }
            : { apiVersion: API_VERSION[kind], kind, metadata: meta, spec: { template } };
    const viaDebug = kind === 'Pod' && debug && spec.ephemeralContainers !== undefined;
    return requestFor(
      object,
      'default',
      viaDebug ? { operation: 'UPDATE', subResource: 'ephemeralcontainers', oldObject: object } : {},
    )!;
  });

/** An Ingress with or without TLS and the allow-http annotation. */
export const ingressRequest: fc.Arbitrary<VapRequest> = fc
  .record({
    metadata,
    tls: opt(
      fc.array(fc.record({ hosts: fc.constant(['a.example.com']), secretName: fc.constant('tls') }), { maxLength: 2 }),
      2,
    ),
  })
  .map(({ metadata: meta, tls }) =>
    requestFor(
      clean({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: meta, spec: clean({ tls, rules: [] }) }),
      'default',
    )!,
  );
