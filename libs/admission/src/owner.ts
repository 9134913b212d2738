import type { OwnerRef } from '@portcullis/policy-engine';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The workload an object belongs to, from its controller ownerReference: a ReplicaSet
 * carrying the pod-template-hash is a Deployment's (its name minus the hash), a Job
 * named `<name>-<minutes>` is a CronJob's. Objects without a controller own themselves.
 */
export function resolveOwner(object: unknown, kind: string, name: string): OwnerRef {
  const meta = isObject(object) && isObject(object['metadata']) ? object['metadata'] : {};
  const refs = Array.isArray(meta['ownerReferences']) ? meta['ownerReferences'] : [];
  const controller = refs.find((r): r is Record<string, unknown> => isObject(r) && r['controller'] === true) as
    Record<string, unknown> | undefined;
  const self: OwnerRef = { kind, name: name || fallbackName(meta) };
  if (
    !controller ||
    typeof controller['kind'] !== 'string' ||
    typeof controller['name'] !== 'string' ||
    controller['name'] === ''
  )
    return self;
  const ownerKind = controller['kind'];
  const ownerName = controller['name'];
  const labels = isObject(meta['labels']) ? meta['labels'] : {};
  if (ownerKind === 'ReplicaSet') {
    const hash = labels['pod-template-hash'];
    if (typeof hash === 'string' && hash !== '' && ownerName.endsWith(`-${hash}`))
      return { kind: 'Deployment', name: ownerName.slice(0, -hash.length - 1) };
  }
  if (ownerKind === 'Job') {
    // CronJob controllers name their Jobs <cronjob>-<scheduled time in minutes since the epoch>
    const m = /^(.+)-(\d{8,10})$/.exec(ownerName);
    if (m) return { kind: 'CronJob', name: m[1]! };
  }
  return { kind: ownerKind, name: ownerName };
}

function fallbackName(meta: Record<string, unknown>): string {
  const generate = meta['generateName'];
  return typeof generate === 'string' && generate !== '' ? generate : '(unnamed)';
}
