import { CONTAINER_LISTS, isObject } from './inspect';

/** Metadata that differs between replicas of one workload and never decides a rule. */
const VOLATILE_METADATA = [
  'uid',
  'resourceVersion',
  'creationTimestamp',
  'managedFields',
  'generation',
  'selfLink',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
];

/**
 * The projected service-account token volume that the ServiceAccount admission plugin adds
 * to every pod under a random name (`kube-api-access-` and five characters) and mounts in
 * each container: the one part of a controller-created pod's spec that differs per replica.
 */
const TOKEN_VOLUME = /^kube-api-access-[a-z0-9]{5}$/;
const TOKEN_VOLUME_NAME = 'kube-api-access';

/**
 * The object as every replica of its workload has it: volatile metadata removed (the
 * generated name too, when the object has generateName) and a Pod's token volume renamed
 * `kube-api-access`. Nothing removed here can decide a rule, so evaluating the result gives
 * the object's own verdict. The inventory stores admission snapshots in this form (one per
 * pod template, not one per replica), and the agent keys the snapshots it already uploaded
 * by it. Copies only along the paths that change; the argument is not modified.
 */
export function replicaInvariant(object: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const meta = object['metadata'];
  if (!isObject(meta)) return object as Record<string, unknown>;
  const m = { ...meta };
  for (const key of VOLATILE_METADATA) delete m[key];
  if (typeof m['generateName'] === 'string' && m['generateName'] !== '') delete m['name'];
  const spec = object['kind'] === 'Pod' ? object['spec'] : undefined;
  const token = isObject(spec) ? tokenVolumeOf(spec) : undefined;
  return {
    ...object,
    metadata: m,
    ...(token !== undefined ? { spec: renameVolume(spec as Record<string, unknown>, token, TOKEN_VOLUME_NAME) } : {}),
  };
}

function tokenVolumeOf(pod: Readonly<Record<string, unknown>>): string | undefined {
  const volumes = pod['volumes'];
  if (!Array.isArray(volumes)) return undefined;
  for (const v of volumes)
    if (isObject(v) && typeof v['name'] === 'string' && TOKEN_VOLUME.test(v['name']) && isObject(v['projected']))
      return v['name'];
  return undefined;
}

/** A copy of the pod spec with volume `from` named `to`, in its volumes and every container's volumeMounts. */
function renameVolume(pod: Readonly<Record<string, unknown>>, from: string, to: string): Record<string, unknown> {
  // no other volume may already be called `to`: two volumes of one name would be a different pod
  if ((pod['volumes'] as unknown[]).some((v) => isObject(v) && v['name'] === to)) return pod as Record<string, unknown>;
  const rename = (x: unknown): unknown => (isObject(x) && x['name'] === from ? { ...x, name: to } : x);
  const out: Record<string, unknown> = { ...pod, volumes: (pod['volumes'] as unknown[]).map(rename) };
  for (const list of CONTAINER_LISTS) {
    const containers = pod[list];
    if (!Array.isArray(containers)) continue;
    out[list] = containers.map((c: unknown) =>
      isObject(c) && Array.isArray(c['volumeMounts'])
        ? { ...c, volumeMounts: (c['volumeMounts'] as unknown[]).map(rename) }
        : c,
    );
  }
  return out;
}
