import type { ObjectRef } from './types';

/** A container of the pod spec, with where it sits in the object. */
export interface ContainerView {
  readonly name: string;
  readonly type: 'containers' | 'initContainers' | 'ephemeralContainers';
  /** JSON path of the container, e.g. `spec.template.spec.containers[1]`. */
  readonly path: string;
  readonly spec: Readonly<Record<string, unknown>>;
  /** The container's securityContext ({} when absent). */
  readonly sc: Readonly<Record<string, unknown>>;
  readonly image: string | undefined;
}

export interface PodTarget {
  readonly status: 'pod';
  readonly ref: ObjectRef;
  /** JSON path of the pod spec: `spec`, `spec.template.spec`, `spec.jobTemplate.spec.template.spec`, `template.spec`. */
  readonly podPath: string;
  readonly pod: Readonly<Record<string, unknown>>;
  /** The pod's securityContext ({} when absent). */
  readonly podSc: Readonly<Record<string, unknown>>;
  /** Annotations of the pod (or of the pod template). */
  readonly podAnnotations: Readonly<Record<string, string>>;
  readonly podMetaPath: string;
  readonly containers: readonly ContainerView[];
  readonly windows: boolean;
}

export interface IngressTarget {
  readonly status: 'ingress';
  readonly ref: ObjectRef;
  readonly spec: Readonly<Record<string, unknown>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** A namespaced object of another kind: only namespace rules apply to it. */
export interface GenericTarget {
  readonly status: 'generic';
  readonly ref: ObjectRef;
}

export type InspectedObject =
  | PodTarget
  | IngressTarget
  | GenericTarget
  | { readonly status: 'not-applicable'; readonly ref?: ObjectRef; readonly reason: string }
  | { readonly status: 'cannot-evaluate'; readonly ref?: ObjectRef; readonly reason: string };

/** Where each workload kind keeps its pod spec and pod metadata. */
const POD_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  PodTemplate: ['template'],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

/** Kinds that live outside namespaces: never "in the default namespace". */
const CLUSTER_SCOPED = new Set([
  'Namespace', 'Node', 'PersistentVolume', 'StorageClass', 'CSIDriver', 'CSINode', 'VolumeAttachment', 'ClusterRole', 'ClusterRoleBinding',
  'CustomResourceDefinition', 'APIService', 'PriorityClass', 'RuntimeClass', 'IngressClass', 'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'MutatingAdmissionPolicy',
  'MutatingAdmissionPolicyBinding', 'PodSecurityPolicy', 'CertificateSigningRequest', 'ComponentStatus', 'FlowSchema',
  'PriorityLevelConfiguration', 'ClusterIssuer', 'IPAddress', 'ServiceCIDR', 'DeviceClass', 'ResourceSlice', 'StorageVersionMigration',
  'VolumeAttributesClass', 'ClusterTrustBundle', 'SelfSubjectReview', 'TokenReview', 'SubjectAccessReview', 'SelfSubjectAccessReview',
  'SelfSubjectRulesReview',
]);

const INGRESS_GROUPS = new Set(['networking.k8s.io/v1', 'networking.k8s.io/v1beta1', 'extensions/v1beta1']);

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringMap(v: unknown): Record<string, string> {
  if (!isObject(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** Reduces any JSON value to what the rules evaluate; never throws. */
export function inspectObject(object: unknown, defaultNamespace: string): InspectedObject {
  if (!isObject(object)) return { status: 'cannot-evaluate', reason: 'the document is not a JSON object' };
  const kind = object['kind'];
  const apiVersion = object['apiVersion'];
  if (typeof kind !== 'string' || kind === '') return { status: 'cannot-evaluate', reason: 'kind is missing or not a string' };
  if (typeof apiVersion !== 'string' || apiVersion === '') return { status: 'cannot-evaluate', reason: 'apiVersion is missing or not a string' };
  const metadata = object['metadata'];
  if (metadata !== undefined && !isObject(metadata)) return { status: 'cannot-evaluate', reason: 'metadata is not an object' };
  const meta = metadata ?? {};
  const rawName = meta['name'] ?? meta['generateName'];
  const name = typeof rawName === 'string' ? rawName : '';
  const ns = meta['namespace'];
  if (ns !== undefined && typeof ns !== 'string') return { status: 'cannot-evaluate', reason: 'metadata.namespace is not a string' };
  const namespaced = !CLUSTER_SCOPED.has(kind);
  const ref: ObjectRef = {
    apiVersion,
    kind,
    name,
    labels: stringMap(meta['labels']),
    ...(namespaced ? { namespace: ns || defaultNamespace } : {}),
  };

  if (kind === 'Ingress' && INGRESS_GROUPS.has(apiVersion)) {
    const spec = object['spec'];
    if (spec !== undefined && !isObject(spec)) return { status: 'cannot-evaluate', ref, reason: 'spec is not an object' };
    return { status: 'ingress', ref, spec: spec ?? {}, annotations: stringMap(meta['annotations']) };
  }
  const route = POD_PATHS[kind];
  if (!route) return namespaced ? { status: 'generic', ref } : { status: 'not-applicable', ref, reason: `${kind} is cluster-scoped and holds no pod spec` };

  // walk to the pod template: every step must be an object
  let node: Record<string, unknown> = object;
  const walked: string[] = [];
  for (const step of route) {
    const next = node[step];
    walked.push(step);
    if (!isObject(next)) return { status: 'cannot-evaluate', ref, reason: `${walked.join('.')} is missing or not an object` };
    node = next;
  }
  const podMeta = route.length === 0 ? meta : node['metadata'];
  const podMetaPath = route.length === 0 ? 'metadata' : `${route.join('.')}.metadata`;
  const pod = node['spec'];
  const podPath = route.length === 0 ? 'spec' : `${route.join('.')}.spec`;
  if (!isObject(pod)) return { status: 'cannot-evaluate', ref, reason: `${podPath} is missing or not an object` };
  const podSc = pod['securityContext'];
  if (podSc !== undefined && podSc !== null && !isObject(podSc)) return { status: 'cannot-evaluate', ref, reason: `${podPath}.securityContext is not an object` };

  const containers: ContainerView[] = [];
  for (const type of ['containers', 'initContainers', 'ephemeralContainers'] as const) {
    const list = pod[type];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) return { status: 'cannot-evaluate', ref, reason: `${podPath}.${type} is not a list` };
    for (let i = 0; i < list.length; i++) {
      const c: unknown = list[i];
      if (!isObject(c)) return { status: 'cannot-evaluate', ref, reason: `${podPath}.${type}[${i}] is not an object` };
      const sc = c['securityContext'];
      if (sc !== undefined && sc !== null && !isObject(sc)) return { status: 'cannot-evaluate', ref, reason: `${podPath}.${type}[${i}].securityContext is not an object` };
      containers.push({
        name: typeof c['name'] === 'string' ? c['name'] : `${type}[${i}]`,
        type,
        path: `${podPath}.${type}[${i}]`,
        spec: c,
        sc: sc ?? {},
        image: typeof c['image'] === 'string' ? c['image'] : undefined,
      });
    }
  }
  const os = pod['os'];
  return {
    status: 'pod',
    ref,
    podPath,
    pod,
    podSc: podSc ?? {},
    podAnnotations: stringMap(isObject(podMeta) ? podMeta['annotations'] : undefined),
    podMetaPath,
    containers,
    windows: isObject(os) && os['name'] === 'windows',
  };
}
