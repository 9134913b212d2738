import { createHash } from 'node:crypto';
import { gunzipSync, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { canonicalJson } from '@portcullis/bundle';

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
 * The snapshot as stored: volatile metadata removed (a generated name too, when the
 * object has generateName), so the replicas of one workload share one snapshot; then
 * canonical JSON and its SHA-256.
 */
export function prepareSnapshot(snapshot: Readonly<Record<string, unknown>>): PreparedSnapshot {
  const meta = snapshot['metadata'];
  let object: Record<string, unknown> = snapshot as Record<string, unknown>;
  if (typeof meta === 'object' && meta !== null && !Array.isArray(meta)) {
    const m = { ...(meta as Record<string, unknown>) };
    for (const key of VOLATILE_METADATA) delete m[key];
    if (typeof m['generateName'] === 'string' && m['generateName'] !== '') delete m['name'];
    object = { ...snapshot, metadata: m };
  }
  const canonical = canonicalJson(object);
  return { hash: createHash('sha256').update(canonical).digest('hex'), kind: typeof snapshot['kind'] === 'string' ? snapshot['kind'] : '', canonical };
}

export function compressSnapshot(canonical: string): Promise<Buffer> {
  return gzipAsync(canonical, { level: 6 });
}

export function decompressSnapshot(body: Uint8Array): unknown {
  return JSON.parse(gunzipSync(body).toString('utf8')) as unknown;
}
