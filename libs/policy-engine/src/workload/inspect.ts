import type { ObjectRef } from '../types';
import { CLUSTER_SCOPED_KINDS, INGRESS_API_VERSIONS, isListKind, POD_TEMPLATE_ROUTES } from './kinds';
import type { ContainerView, InspectedObject } from './target';

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const EMPTY: Readonly<Record<string, never>> = Object.freeze({});
/** The container lists of a pod spec, in the order the rules report them. */
export const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

/** Labels and annotations as strings; the object itself when it already is one (the usual case, no copy). */
function stringMap(v: unknown): Readonly<Record<string, string>> {
  if (!isObject(v)) return EMPTY;
  let clean = true;
  for (const key in v) {
    if (typeof v[key] !== 'string') {
      clean = false;
      break;
    }
  }
  if (clean) return v as Record<string, string>;
  const out: Record<string, string> = {};
  for (const key in v) if (typeof v[key] === 'string') out[key] = v[key] as string;
  return out;
}

/** Reduces any JSON value to what the rules evaluate. Never throws: malformed input is a `cannot-evaluate` naming the field. */
export function inspectObject(object: unknown, defaultNamespace: string): InspectedObject {
  if (!isObject(object))
    return {
      status: 'cannot-evaluate',
      reason: `the document is ${Array.isArray(object) ? 'a list' : object === null ? 'null' : `a ${typeof object}`}, not a Kubernetes object`,
    };
  const kind = object['kind'];
  const apiVersion = object['apiVersion'];
  if (typeof kind !== 'string' || kind === '')
    return { status: 'cannot-evaluate', reason: 'kind is missing or not a string' };
  if (typeof apiVersion !== 'string' || apiVersion === '')
    return { status: 'cannot-evaluate', reason: 'apiVersion is missing or not a string' };
  const metadata = object['metadata'];
  if (metadata !== undefined && metadata !== null && !isObject(metadata))
    return { status: 'cannot-evaluate', reason: 'metadata is not an object' };
  const meta = metadata ?? EMPTY;
  const rawName = meta['name'] ?? meta['generateName'];
  const ns = meta['namespace'];
  if (ns !== undefined && ns !== null && typeof ns !== 'string')
    return { status: 'cannot-evaluate', reason: 'metadata.namespace is not a string' };
  if (isListKind(kind))
    return { status: 'not-applicable', reason: `${kind} is a list; its items are evaluated one by one` };
  const namespaced = !CLUSTER_SCOPED_KINDS.has(kind);
  const ref: ObjectRef = {
    apiVersion,
    kind,
    name: typeof rawName === 'string' ? rawName : '',
    labels: stringMap(meta['labels']),
    ...(namespaced ? { namespace: typeof ns === 'string' && ns !== '' ? ns : defaultNamespace } : {}),
  };

  if (kind === 'Ingress' && INGRESS_API_VERSIONS.has(apiVersion)) {
    const spec = object['spec'];
    if (spec !== undefined && spec !== null && !isObject(spec))
      return { status: 'cannot-evaluate', ref, reason: 'spec is not an object' };
    return { status: 'ingress', ref, spec: spec ?? EMPTY, annotations: stringMap(meta['annotations']) };
  }
  const route = POD_TEMPLATE_ROUTES[kind];
  if (route === undefined || !Object.prototype.hasOwnProperty.call(POD_TEMPLATE_ROUTES, kind)) {
    return namespaced
      ? { status: 'generic', ref }
      : { status: 'not-applicable', ref, reason: `${kind} is cluster-scoped and holds no pod spec` };
  }

  // walk to the pod template: every step must be an object
  let template: Record<string, unknown> = object;
  for (let i = 0; i < route.length; i++) {
    const next = template[route[i]!];
    if (!isObject(next))
      return {
        status: 'cannot-evaluate',
        ref,
        reason: `${route.slice(0, i + 1).join('.')} is missing or not an object`,
      };
    template = next;
  }
  const prefix = route.length === 0 ? '' : `${route.join('.')}.`;
  const podPath = `${prefix}spec`;
  const podMeta = route.length === 0 ? meta : template['metadata'];
  if (podMeta !== undefined && podMeta !== null && !isObject(podMeta))
    return { status: 'cannot-evaluate', ref, reason: `${prefix}metadata is not an object` };
  const pod = template['spec'];
  if (!isObject(pod)) return { status: 'cannot-evaluate', ref, reason: `${podPath} is missing or not an object` };
  const podSc = pod['securityContext'];
  if (podSc !== undefined && podSc !== null && !isObject(podSc))
    return { status: 'cannot-evaluate', ref, reason: `${podPath}.securityContext is not an object` };

  const containers: ContainerView[] = [];
  for (const type of CONTAINER_LISTS) {
    const list = pod[type];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) return { status: 'cannot-evaluate', ref, reason: `${podPath}.${type} is not a list` };
    for (let i = 0; i < list.length; i++) {
      const c: unknown = list[i];
      const path = `${podPath}.${type}[${i}]`;
      if (!isObject(c)) return { status: 'cannot-evaluate', ref, reason: `${path} is not an object` };
      const sc = c['securityContext'];
      if (sc !== undefined && sc !== null && !isObject(sc))
        return { status: 'cannot-evaluate', ref, reason: `${path}.securityContext is not an object` };
      const name = c['name'];
      const image = c['image'];
      containers.push({
        name: typeof name === 'string' && name !== '' ? name : `${type}[${i}]`,
        type,
        path,
        spec: c,
        sc: sc ?? EMPTY,
        image: typeof image === 'string' && image !== '' ? image : undefined,
      });
    }
  }
  const os = pod['os'];
  return {
    status: 'pod',
    ref,
    podPath,
    pod,
    podSc: podSc ?? EMPTY,
    podAnnotations: stringMap(isObject(podMeta) ? podMeta['annotations'] : undefined),
    podMetaPath: `${prefix}metadata`,
    containers,
    windows: isObject(os) && os['name'] === 'windows',
  };
}
