export interface SnapshotIdLimits {
  /** Characters of snapshot JSON held as keys, in all (about that many bytes of heap, twice for non-Latin-1 text). */
  readonly maxChars: number;
  /** A snapshot larger than this is always sent in full: holding it as a key would cost more than it saves. */
  readonly maxSnapshotChars: number;
  /**
   * How long an id learnt from the API is used. The API keeps a snapshot while events refer
   * to it (each reference moves its last-seen day up) for at least a day of retention, so an
   * id used within this window refers to a stored snapshot; after it, the snapshot is sent in
   * full once more and its id learnt again.
   */
  readonly ttlMs: number;
}

export const SNAPSHOT_ID_LIMITS: SnapshotIdLimits = {
  maxChars: 8 * 1024 * 1024,
  maxSnapshotChars: 32 * 1024,
  ttlMs: 60 * 60_000,
};

/**
 * The ids under which the API stores snapshots this agent uploaded, keyed by the snapshot's
 * JSON (replica-invariant form, as snapshotJson writes it). Every replica and restart of a
 * workload admits the same pod template: once the API has answered with its id, later events
 * carry the 64-character id instead of kilobytes of JSON, in the spool, on the wire and in the
 * API. Learnt only from the API's answer to an upload, so an id is only ever sent for a
 * snapshot the API said it holds; lost on restart (the next admission sends it in full).
 * Bounded by characters held; the oldest learnt is forgotten first.
 */
export class SnapshotIds {
  private readonly ids = new Map<string, { readonly id: string; readonly until: number }>();
  private chars = 0;

  constructor(
    private readonly limits: SnapshotIdLimits = SNAPSHOT_ID_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The id to send instead of this snapshot, if the API named one recently. */
  idOf(json: string): string | undefined {
    const known = this.ids.get(json);
    if (known === undefined) return undefined;
    if (known.until > this.now()) return known.id;
    this.remove(json);
    return undefined;
  }

  /** The API stores `json` under `id` (its answer to an upload that carried it). */
  learn(json: string, id: string): void {
    if (json.length > this.limits.maxSnapshotChars) return;
    // learnt again: it moves to the back of the eviction order with a fresh lifetime
    if (this.ids.has(json)) this.remove(json);
    this.ids.set(json, { id, until: this.now() + this.limits.ttlMs });
    this.chars += json.length;
    for (const oldest of this.ids.keys()) {
      if (this.chars <= this.limits.maxChars) break;
      this.remove(oldest);
    }
  }

  /** The API holds no snapshot under `id` (retention, a restored database): send it in full again. */
  forget(id: string): void {
    for (const [json, known] of this.ids) if (known.id === id) this.remove(json);
  }

  get size(): number {
    return this.ids.size;
  }

  private remove(json: string): void {
    if (this.ids.delete(json)) this.chars -= json.length;
  }
}
