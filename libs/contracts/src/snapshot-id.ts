import { hash as digestOf } from 'node:crypto';
import { canonicalJson } from '@portcullis/bundle';
import { replicaInvariant } from '@portcullis/policy-engine';

/**
 * The id of an admission snapshot, shared by the API (which stores snapshots under it) and
 * whoever must name a snapshot as the API does (the agent's control-plane stand-in, benches).
 */
export interface PreparedSnapshot {
  /** SHA-256 of the canonical JSON, hex. */
  readonly hash: string;
  readonly kind: string;
  readonly canonical: string;
}

/**
 * The snapshot as stored: in its replica-invariant form (volatile metadata and the generated
 * name removed, a Pod's token volume renamed), so the replicas of one workload share one
 * snapshot; then canonical JSON and its SHA-256, the snapshot's id within the tenant.
 */
export function prepareSnapshot(snapshot: Readonly<Record<string, unknown>>): PreparedSnapshot {
  return canonicalOf(replicaInvariant(snapshot), snapshot);
}

function canonicalOf(object: Record<string, unknown>, snapshot: Readonly<Record<string, unknown>>): PreparedSnapshot {
  const canonical = canonicalJson(object);
  return {
    hash: digestOf('sha256', canonical, 'hex'),
    kind: typeof snapshot['kind'] === 'string' ? snapshot['kind'] : '',
    canonical,
  };
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
  hash(snapshot: Readonly<Record<string, unknown>>): {
    readonly hash: string;
    readonly kind: string;
    canonical(): string;
  } {
    const object = replicaInvariant(snapshot);
    const key = digestOf('sha256', JSON.stringify(object), 'base64');
    let known = this.seen.get(key);
    let prepared: PreparedSnapshot | undefined;
    if (!known) {
      prepared = canonicalOf(object, snapshot);
      if (this.seen.size >= this.capacity) this.seen.clear();
      this.seen.set(key, (known = { hash: prepared.hash, kind: prepared.kind }));
    }
    return {
      hash: known.hash,
      kind: known.kind,
      canonical: () => (prepared ??= canonicalOf(object, snapshot)).canonical,
    };
  }
}
