import { hash as digestOf } from 'node:crypto';
import { gunzipSync, gzip, gzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import { canonicalJson } from '@portcullis/bundle';
import { CONTAINER_LISTS } from '@portcullis/policy-engine';

const gzipAsync = promisify(gzip);

/** Metadata that differs between replicas of one workload and never decides a rule. */
const VOLATILE_METADATA = ['uid', 'resourceVersion', 'creationTimestamp', 'managedFields', 'generation', 'selfLink', 'deletionTimestamp', 'deletionGracePeriodSeconds'];

export interface PreparedSnapshot {
  /** SHA-256 of the canonical JSON, hex. */
  readonly hash: string;
  readonly kind: string;
  readonly canonical: string;
}

/**
 * The projected service-account token volume that the ServiceAccount admission plugin adds
 * to every pod under a random name (`kube-api-access-` and five characters) and mounts in
 * each container: the one part of a controller-created pod's spec that differs per replica.
 */
const TOKEN_VOLUME = /^kube-api-access-[a-z0-9]{5}$/;
const TOKEN_VOLUME_NAME = 'kube-api-access';

/**
 * The snapshot as stored: volatile metadata removed (a generated name too, when the
 * object has generateName) and a Pod's token volume renamed `kube-api-access`, so the
 * replicas of one workload share one snapshot; then canonical JSON and its SHA-256.
 */
export function prepareSnapshot(snapshot: Readonly<Record<string, unknown>>): PreparedSnapshot {
  return canonicalOf(stripVolatile(snapshot), snapshot);
}

function stripVolatile(snapshot: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const meta = snapshot['metadata'];
  if (!isObject(meta)) return snapshot as Record<string, unknown>;
  const m = { ...meta };
  for (const key of VOLATILE_METADATA) delete m[key];
  if (typeof m['generateName'] === 'string' && m['generateName'] !== '') delete m['name'];
  const spec = snapshot['kind'] === 'Pod' ? snapshot['spec'] : undefined;
  const token = isObject(spec) ? tokenVolumeOf(spec) : undefined;
  return { ...snapshot, metadata: m, ...(token !== undefined ? { spec: renameVolume(spec as Record<string, unknown>, token, TOKEN_VOLUME_NAME) } : {}) };
}

function tokenVolumeOf(pod: Readonly<Record<string, unknown>>): string | undefined {
  const volumes = pod['volumes'];
  if (!Array.isArray(volumes)) return undefined;
  for (const v of volumes) if (isObject(v) && typeof v['name'] === 'string' && TOKEN_VOLUME.test(v['name']) && isObject(v['projected'])) return v['name'];
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
    out[list] = containers.map((c: unknown) => (isObject(c) && Array.isArray(c['volumeMounts']) ? { ...c, volumeMounts: (c['volumeMounts'] as unknown[]).map(rename) } : c));
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function canonicalOf(object: Record<string, unknown>, snapshot: Readonly<Record<string, unknown>>): PreparedSnapshot {
  const canonical = canonicalJson(object);
  return { hash: digestOf('sha256', canonical, 'hex'), kind: typeof snapshot['kind'] === 'string' ? snapshot['kind'] : '', canonical };
}

/**
 * Content hashes of snapshots seen recently. Canonical JSON (in JS) costs several times
 * what the native JSON.stringify does, and agents send the same pod spec for every
 * replica and restart; so the SHA-256 of the plain serialisation finds a snapshot seen
 * before, and canonical JSON is only built for new ones. Bounded: cleared when full.
 */
export class SnapshotHasher {
  private readonly seen = new Map<string, { readonly hash: string; readonly kind: string }>();

  constructor(private readonly capacity = 50_000) {}

  /** The content hash and kind; `canonical()` builds the canonical JSON when it is needed (to store it). */
  hash(snapshot: Readonly<Record<string, unknown>>): { readonly hash: string; readonly kind: string; canonical(): string } {
    const object = stripVolatile(snapshot);
    const key = digestOf('sha256', JSON.stringify(object), 'base64');
    let known = this.seen.get(key);
    let prepared: PreparedSnapshot | undefined;
    if (!known) {
      prepared = canonicalOf(object, snapshot);
      if (this.seen.size >= this.capacity) this.seen.clear();
      this.seen.set(key, (known = { hash: prepared.hash, kind: prepared.kind }));
    }
    return { hash: known.hash, kind: known.kind, canonical: () => (prepared ??= canonicalOf(object, snapshot)).canonical };
  }
}

/** Up to this size a snapshot is compressed on the event loop (tens of µs). */
const SYNC_COMPRESS_MAX_CHARS = 64 * 1024;

/**
 * Gzip of a snapshot's canonical JSON. Pod specs are a few KB: for them zlib's async path
 * (stream machinery, a thread-pool hop, fresh deflate state) cost ~9x the CPU of compressing
 * in place (measured 330 vs 37 µs per 0.5 KB snapshot); large ones go to the thread pool.
 */
export function compressSnapshot(canonical: string): Promise<Buffer> {
  if (canonical.length <= SYNC_COMPRESS_MAX_CHARS) return Promise.resolve(gzipSync(canonical, { level: 6 }));
  return gzipAsync(canonical, { level: 6 });
}

export function decompressSnapshot(body: Uint8Array): unknown {
  return JSON.parse(gunzipSync(body).toString('utf8')) as unknown;
}
