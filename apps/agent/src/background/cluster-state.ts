import { WATCHED_KINDS, type WatchedKind } from './kinds';

/** The controller that owns an object (its controller ownerReference), by kind and name in its namespace. */
export interface OwnerOf {
  readonly kind: string;
  readonly name: string;
}

/**
 * What is kept of one object: little for what only counts (pods with a controller, a
 * Deployment's ReplicaSets, a CronJob's Jobs), the object itself (as stripped JSON) only
 * for what is a workload of its own. 10,000 pods cost about a megabyte here, not the
 * hundreds of megabytes their full objects would.
 */
interface Entry {
  readonly uid: string;
  readonly owner: OwnerOf | undefined;
  /** Pods: phase Running. */
  readonly running: boolean;
  /** The object, stripped (see `stripped`), when it is a workload of its own. */
  readonly json: string | undefined;
  readonly apiVersion: string;
  /** Changes whenever `json` does: evaluations are cached by it. */
  readonly version: number;
}

/** A workload: the top-most controller the agent sees, a bare pod, or an Ingress. */
export interface Workload {
  readonly key: string;
  readonly kind: WatchedKind;
  readonly apiVersion: string;
  readonly namespace: string | null;
  readonly name: string;
  readonly uid: string;
  readonly json: string;
  readonly version: number;
  /** Running pods it owns now. */
  readonly pods: number;
}

/** Pods whose controller is one of these are counted under it; others are workloads of their own. */
const POD_CONTROLLERS: ReadonlySet<string> = new Set([
  'ReplicaSet',
  'Job',
  'StatefulSet',
  'DaemonSet',
  'ReplicationController',
]);
/** A ReplicaSet under a Deployment, a Job under a CronJob, is part of that workload. */
const PARENT_OF: Readonly<Partial<Record<WatchedKind, string>>> = { ReplicaSet: 'Deployment', Job: 'CronJob' };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Metadata that changes without the object's spec changing (and the last-applied copy of it). */
const VOLATILE = [
  'resourceVersion',
  'managedFields',
  'creationTimestamp',
  'generation',
  'selfLink',
  'deletionTimestamp',
];
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export const workloadKey = (kind: string, namespace: string | null, name: string): string =>
  `${kind}/${namespace ?? ''}/${name}`;

/**
 * The cluster as the background audit needs it, fed by one reflector per kind (list, then
 * watch): per kind, objects by namespace/name. A relist replaces a kind's objects at once
 * (`stage` then `commit`), so what the relist did not return is gone and nothing counts twice.
 */
export class ClusterState {
  private readonly kinds = new Map<WatchedKind, Map<string, Entry>>();
  private version = 0;
  /** Bumped on every change a report could show (objects, pod counts). */
  changes = 0;

  constructor() {
    for (const k of WATCHED_KINDS) this.kinds.set(k, new Map());
  }

  /** Objects held per kind (metrics). */
  count(kind: WatchedKind): number {
    return this.kinds.get(kind)!.size;
  }

  upsert(kind: WatchedKind, apiVersion: string, object: unknown): void {
    const name = nameOf(object);
    if (name === undefined) return;
    const map = this.kinds.get(kind)!;
    const entry = this.entryOf(kind, apiVersion, object, map.get(name));
    map.set(name, entry);
    this.changes++;
  }

  remove(kind: WatchedKind, object: unknown): void {
    const name = nameOf(object);
    if (name !== undefined && this.kinds.get(kind)!.delete(name)) this.changes++;
  }

  /** A relist: objects added to the stage replace all of the kind's objects on commit. */
  stage(kind: WatchedKind, apiVersion: string): { add(object: unknown): void; commit(): void } {
    const old = this.kinds.get(kind)!;
    const next = new Map<string, Entry>();
    return {
      add: (object) => {
        const name = nameOf(object);
        if (name !== undefined) next.set(name, this.entryOf(kind, apiVersion, object, old.get(name)));
      },
      commit: () => {
        this.kinds.set(kind, next);
        this.changes++;
      },
    };
  }

  /** Every workload now, with its running pods counted. */
  workloads(): Workload[] {
    const pods = new Map<string, number>();
    for (const [key, e] of this.kinds.get('Pod')!) {
      if (!e.running || e.owner === undefined || !POD_CONTROLLERS.has(e.owner.kind)) continue;
      const namespace = key.slice(0, key.indexOf('/'));
      const owner = this.topOf(e.owner, namespace);
      const k = workloadKey(owner.kind, namespace, owner.name);
      pods.set(k, (pods.get(k) ?? 0) + 1);
    }
    const out: Workload[] = [];
    for (const [kind, map] of this.kinds) {
      for (const [key, e] of map) {
        if (e.json === undefined) continue;
        const slash = key.indexOf('/');
        const namespace = slash > 0 ? key.slice(0, slash) : null;
        const name = key.slice(slash + 1);
        const k = workloadKey(kind, namespace, name);
        out.push({
          key: k,
          kind,
          apiVersion: e.apiVersion,
          namespace,
          name,
          uid: e.uid,
          json: e.json,
          version: e.version,
          pods: kind === 'Pod' ? (e.running ? 1 : 0) : (pods.get(k) ?? 0),
        });
      }
    }
    return out;
  }

  /** ReplicaSet -> its Deployment, Job -> its CronJob; anything else is its own top. */
  private topOf(owner: OwnerOf, namespace: string): OwnerOf {
    const parentKind = PARENT_OF[owner.kind as WatchedKind];
    if (parentKind === undefined) return owner;
    const e = this.kinds.get(owner.kind as WatchedKind)!.get(`${namespace}/${owner.name}`);
    return e?.owner !== undefined && e.owner.kind === parentKind ? e.owner : owner;
  }

  private entryOf(kind: WatchedKind, apiVersion: string, object: unknown, previous: Entry | undefined): Entry {
    const meta = isObject(object) && isObject(object['metadata']) ? object['metadata'] : {};
    const owner = controllerOf(meta);
    const ownWorkload =
      kind === 'Pod'
        ? owner === undefined || !POD_CONTROLLERS.has(owner.kind)
        : !(PARENT_OF[kind] !== undefined && owner?.kind === PARENT_OF[kind]);
    let json = ownWorkload ? JSON.stringify(stripped(object as Record<string, unknown>, kind, apiVersion)) : undefined;
    // unchanged content keeps its version (and so its cached evaluation) and shares the string
    const same = previous !== undefined && previous.json === json;
    if (same) json = previous.json;
    const status = isObject(object) && isObject(object['status']) ? object['status'] : {};
    const running = kind === 'Pod' && status['phase'] === 'Running';
    return {
      uid: typeof meta['uid'] === 'string' ? meta['uid'] : '',
      owner,
      running,
      json,
      apiVersion,
      version: same ? previous.version : ++this.version,
    };
  }
}

function nameOf(object: unknown): string | undefined {
  if (!isObject(object) || !isObject(object['metadata'])) return undefined;
  const { name, namespace } = object['metadata'];
  if (typeof name !== 'string' || name === '') return undefined;
  return `${typeof namespace === 'string' ? namespace : ''}/${name}`;
}

function controllerOf(meta: Record<string, unknown>): OwnerOf | undefined {
  const refs = meta['ownerReferences'];
  if (!Array.isArray(refs)) return undefined;
  for (const r of refs)
    if (isObject(r) && r['controller'] === true && typeof r['kind'] === 'string' && typeof r['name'] === 'string')
      return { kind: r['kind'], name: r['name'] };
  return undefined;
}

/**
 * The object as it is evaluated and kept: without status and the metadata that changes
 * while the spec does not, with kind and apiVersion set (list items carry neither). A
 * list's typed objects and a watch's JSON give the same text (dates as strings).
 */
function stripped(object: Record<string, unknown>, kind: string, apiVersion: string): Record<string, unknown> {
  const {
    status: _status,
    metadata,
    apiVersion: _apiVersion,
    kind: _kind,
    ...rest
  } = JSON.parse(JSON.stringify(object)) as Record<string, unknown>;
  const meta: Record<string, unknown> = isObject(metadata) ? { ...metadata } : {};
  for (const k of VOLATILE) delete meta[k];
  if (isObject(meta['annotations']) && LAST_APPLIED in meta['annotations']) {
    const { [LAST_APPLIED]: _la, ...annotations } = meta['annotations'];
    meta['annotations'] = annotations;
  }
  return { apiVersion, kind, metadata: meta, ...rest };
}
