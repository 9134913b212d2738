import { Inject, Injectable } from '@nestjs/common';
import {
  SnapshotHasher,
  eventTerms,
  validateAdmissionEventBatch,
  type AdmissionEvent,
  type AdmissionEventBatchResult,
} from '@portcullis/contracts';
import type { PrismaClient } from '@portcullis/db';
import { CLOCK, DomainError, PRISMA, forbidden, type Clock } from '@portcullis/platform';
import type { AgentIdentity } from '../agent/agent-auth.guard';
import { AlertIngestEvaluator } from '../alerts/rules/alert-ingest-evaluator';
import {
  EVENT_ROW_TYPE,
  EventRowsEncoder,
  InventoryStore,
  isMissingPartition,
  isResentBatch,
  stagedKeys,
} from '@portcullis/inventory';
import { instantMs } from '../platform/instant';
import { RollupFlusher } from './rollup-flusher';
import { compressSnapshot } from './snapshot-codec';

/** Agent clocks may run a little ahead; an event further in the future is an agent bug. */
const MAX_CLOCK_AHEAD_MS = 10 * 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Bound of KnownSnapshots: it forgets everything when it holds this many. */
const KNOWN_SNAPSHOTS_MAX = 200_000;
const RETENTION_CACHE_MS = 60_000;

/**
 * Ingests one batch of admission events for the agent's cluster: validated whole,
 * then stored in ONE statement (events, snapshots, and the batch's rollup contributions
 * into staging) inside one tenant-bound transaction; RollupFlusher folds the staged
 * contributions into the rollups within ROLLUP_FLUSH_DELAY_MS. Idempotent by (event id,
 * event time): a re-sent event inserts nothing and adds nothing to the rollups.
 */
@Injectable()
export class AdmissionEventIngestor {
  private readonly partitionDays = new Set<number>();
  private readonly knownSnapshots = new KnownSnapshots();
  private readonly hasher = new SnapshotHasher();
  private readonly retention = new Map<string, { days: number; until: number }>();
  private rowType: Promise<number> | undefined;

  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly inventory: InventoryStore,
    private readonly flusher: RollupFlusher,
    private readonly alerts: AlertIngestEvaluator,
  ) {}

  async ingest(agent: AgentIdentity, body: unknown): Promise<AdmissionEventBatchResult> {
    const parsed = validateAdmissionEventBatch(body);
    if (!parsed.ok) {
      const first = parsed.errors[0]!;
      const where = parsed.index === null ? 'the batch' : `events[${parsed.index}]`;
      throw new DomainError(
        'BAD_USER_INPUT',
        `${first.path}: ${first.message} (${where} is invalid; the batch was rejected whole, nothing was stored)`,
        first.path,
        {
          index: parsed.index,
          errors: parsed.errors,
        },
      );
    }
    const events = parsed.value.events;
    const now = this.clock.now().getTime();
    const times = new Array<number>(events.length);
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.clusterId !== undefined && e.clusterId.toLowerCase() !== agent.clusterId) {
        const err = forbidden(
          `events[${i}].clusterId: names cluster ${e.clusterId}, but this credential belongs to cluster ${agent.clusterId}; the batch was rejected whole, nothing was stored`,
        );
        throw new DomainError(err.code, err.message, `events[${i}].clusterId`, { index: i });
      }
      const t = instantMs(e.occurredAt);
      if (t === undefined) {
        throw new DomainError(
          'BAD_USER_INPUT',
          `events[${i}].occurredAt: ${e.occurredAt} names no instant (a day its month does not have?); the batch was rejected whole, nothing was stored`,
          `events[${i}].occurredAt`,
          { index: i },
        );
      }
      if (t > now + MAX_CLOCK_AHEAD_MS) {
        throw new DomainError(
          'BAD_USER_INPUT',
          `events[${i}].occurredAt: ${e.occurredAt} is more than 10 minutes in the future (agent clock?); the batch was rejected whole, nothing was stored`,
          `events[${i}].occurredAt`,
          { index: i },
        );
      }
      times[i] = t;
    }
    const cutoff = startOfDay(now) - (await this.retentionDays(agent.tenantId)) * DAY_MS;
    const keep: number[] = [];
    for (let i = 0; i < events.length; i++) if (times[i]! >= cutoff) keep.push(i);
    const expired = events.length - keep.length;
    if (keep.length === 0) return { accepted: 0, duplicates: 0, expired, snapshots: [], unknownSnapshots: [] };

    const rows = await this.prepare(agent, events, times, keep, await this.eventRowType());
    await this.ensurePartitions(rows.days);
    const { inserted, unknown } = await this.store(agent, rows);
    if (inserted > 0) this.flusher.schedule();
    // after commit: matched in memory against the tenant's cached alert rules, one job at most
    await this.alerts.afterBatch(agent, events, keep);
    for (const [hash, { day }] of rows.carried) this.knownSnapshots.remember(agent.tenantId, hash, day);
    const unknownSnapshots: number[] = [];
    for (const [hash, ref] of rows.refs) {
      if (unknown.has(hash)) unknownSnapshots.push(...ref.indexes);
      else this.knownSnapshots.remember(agent.tenantId, hash, ref.day);
    }
    return {
      accepted: inserted,
      duplicates: keep.length - inserted,
      expired,
      snapshots: [...rows.carried].map(([hash, { index }]) => ({ index, hash })),
      unknownSnapshots: unknownSnapshots.sort((a, b) => a - b),
    };
  }

  private async prepare(
    agent: AgentIdentity,
    events: readonly AdmissionEvent[],
    times: readonly number[],
    keep: readonly number[],
    rowType: number,
  ): Promise<PreparedBatch> {
    const rows = new EventRowsEncoder(rowType, keep.length);
    const known = this.knownSnapshots.of(agent.tenantId);
    const carried = new Map<string, CarriedSnapshot>();
    const refs = new Map<string, { day: number; indexes: number[] }>();
    const days = new Set<number>();
    for (let row = 0; row < keep.length; row++) {
      const i = keep[row]!;
      const e = events[i]!;
      const t = times[i]!;
      const day = startOfDay(t);
      days.add(day);
      let hash: string | null = null;
      if (e.snapshot) {
        const s = snapshotHash(this.hasher, e.snapshot, i);
        hash = s.hash;
        const seen = carried.get(s.hash);
        if (!seen) carried.set(s.hash, { index: i, day, kind: s.kind, canonical: s.canonical });
        else if (seen.day < day) seen.day = day;
      } else if (e.snapshotHash !== undefined) {
        hash = e.snapshotHash;
        // a stored snapshot seen again: its last_seen_day moves up (retention keeps it), unless known to be there already
        if ((known?.get(hash) ?? -1) < day) {
          const ref = refs.get(hash);
          if (!ref) refs.set(hash, { day, indexes: [i] });
          else {
            ref.indexes.push(i);
            if (ref.day < day) ref.day = day;
          }
        }
      }
      rows.add({
        id: e.eventId,
        t,
        ns: e.namespace ?? '',
        k: e.kind,
        av: e.apiVersion,
        n: e.name,
        uid: e.uid ?? null,
        ru: e.requestUid ?? null,
        ok: e.owner.kind,
        on: e.owner.name,
        op: e.operation,
        dr: e.dryRun,
        d: e.decision,
        br: e.bundleRevision ?? null,
        u: e.requestingUser.username,
        g: e.requestingUser.groups ?? [],
        im: e.images,
        tm: eventTerms(agent.clusterId, e),
        f: e.findings.length === 0 ? '[]' : jsonText(e.findings),
        h: hash,
        hr: Math.floor(t / HOUR_MS) * HOUR_MS,
        dy: day,
        ks: stagedKeys(e),
      });
    }
    // what the process does not know to be stored for its latest day is compressed and sent
    const stored = await Promise.all(
      [...carried]
        .filter(([h, s]) => (known?.get(h) ?? -1) < s.day)
        .map(async ([h, s]): Promise<SnapshotRow> => {
          const canonical = s.canonical();
          return {
            h,
            k: s.kind,
            b: (await compressSnapshot(canonical)).toString('base64'),
            n: Buffer.byteLength(canonical),
            dy: new Date(s.day).toISOString(),
          };
        }),
    );
    // a snapshot sent in full in this same batch is stored by it: no reference to check
    for (const hash of carried.keys()) refs.delete(hash);
    const touched = [...refs].map(([h, r]) => ({ h, dy: new Date(r.day).toISOString() }));
    return {
      params: [rows.finish(), jsonText(stored), jsonText(touched)],
      encoder: rows,
      carried,
      refs,
      days: [...days],
    };
  }

  private async store(
    agent: AgentIdentity,
    batch: PreparedBatch,
  ): Promise<{ inserted: number; unknown: ReadonlySet<string> }> {
    try {
      return await this.attempt(agent, batch);
    } finally {
      batch.encoder.release(); // stored, or failed for good: the events parameter's buffer serves the next batch
    }
  }

  /** The ingest statement, again for a re-sent batch after a re-sent event and after re-creating a dropped partition. */
  private async attempt(
    agent: AgentIdentity,
    batch: PreparedBatch,
  ): Promise<{ inserted: number; unknown: ReadonlySet<string> }> {
    const stored = {
      tenantId: agent.tenantId,
      clusterId: agent.clusterId,
      cloudScopeId: agent.cloudScopeId,
      params: batch.params,
    };
    let resent = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.inventory.storeBatch(stored, resent);
      } catch (err) {
        if (attempt === 3) throw err;
        if (isResentBatch(err)) {
          // an event of the batch is stored already (a re-send): the statement rolled back whole
          resent = true;
        } else if (isMissingPartition(err)) {
          // a partition dropped under our cache (retention shortened meanwhile): re-create it
          this.partitionDays.clear();
          await this.ensurePartitions(batch.days);
        } else throw err;
      }
    }
  }

  private async ensurePartitions(days: readonly number[]): Promise<void> {
    for (const day of new Set(days)) {
      if (this.partitionDays.has(day)) continue;
      // platform work (DDL) with the owner's connection, outside the tenant transaction
      await this.inventory.ensurePartition(new Date(day).toISOString().slice(0, 10));
      this.partitionDays.add(day);
    }
  }

  /** The OID of admission_event_row in this database (the events parameter names it), looked up once. */
  private eventRowType(): Promise<number> {
    this.rowType ??= this.inventory.eventRowTypeOid().then((oid) => {
      // the launcher (npm start) applies the migrations before it starts the API
      if (oid === null)
        throw new Error(`the database has no type ${EVENT_ROW_TYPE}: its migrations have not been applied`);
      return oid;
    });
    return this.rowType.catch((err: unknown) => {
      this.rowType = undefined; // a connection error: ask again next time
      throw err;
    });
  }

  private async retentionDays(tenantId: string): Promise<number> {
    const now = Date.now();
    const cached = this.retention.get(tenantId);
    if (cached && cached.until > now) return cached.days;
    const tenant = await this.prisma.tenant.findUnique({
      where: { id: tenantId },
      select: { admissionRetentionDays: true },
    });
    const days = tenant?.admissionRetentionDays ?? 30;
    this.retention.set(tenantId, { days, until: now + RETENTION_CACHE_MS });
    return days;
  }
}

/**
 * Snapshots this process knows to be stored, per tenant, with the latest day it knows their
 * last-seen day to be (it only moves up): an event of that day or earlier neither sends the
 * bytes again nor asks the statement to move the day. Looked up per event by the hash alone
 * (no key string built per event). Forgetting costs one redundant write, never a wrong answer.
 */
class KnownSnapshots {
  private readonly byTenant = new Map<string, Map<string, number>>();
  private size = 0;

  /** The tenant's snapshots: hash -> latest known day (start of day, Unix ms). */
  of(tenantId: string): ReadonlyMap<string, number> | undefined {
    return this.byTenant.get(tenantId);
  }

  remember(tenantId: string, hash: string, day: number): void {
    let days = this.byTenant.get(tenantId);
    if (!days) this.byTenant.set(tenantId, (days = new Map()));
    const known = days.get(hash);
    if (known === undefined) {
      if (this.size >= KNOWN_SNAPSHOTS_MAX) {
        this.byTenant.clear();
        this.size = 0;
        this.byTenant.set(tenantId, (days = new Map()));
      }
      this.size++;
    }
    if (known === undefined || known < day) days.set(hash, day);
  }
}

interface PreparedBatch {
  /** The statement's parameters after tenant, cluster and scope: the events (binary, EventRowsEncoder), the new and the referenced snapshots (JSON). */
  readonly params: readonly [Buffer, string, string];
  /** Wrote params[0]: store() releases it once no attempt will send it again. */
  readonly encoder: EventRowsEncoder;
  /** Each snapshot sent in full, by its id. */
  readonly carried: ReadonlyMap<string, CarriedSnapshot>;
  /** Snapshot ids referred to (snapshotHash) and not known to be stored for their latest day: checked and kept by the statement. */
  readonly refs: ReadonlyMap<string, { readonly day: number; readonly indexes: readonly number[] }>;
  readonly days: readonly number[];
}

/** A snapshot sent in full in a batch. */
interface CarriedSnapshot {
  /** The first event (index in the batch) that carried it: the answer names its id there. */
  readonly index: number;
  /** The latest day an event of the batch carried it on. */
  day: number;
  readonly kind: string;
  readonly canonical: () => string;
}

interface SnapshotRow {
  readonly h: string;
  readonly k: string;
  readonly b: string;
  readonly n: number;
  readonly dy: string;
}

/**
 * JSON text for a json value. JSON.stringify escapes a lone surrogate as \udXXX, which
 * PostgreSQL's json refuses; such strings are made well-formed (U+FFFD), as the UTF-8
 * encoding of a text value would. A literal backslash followed by "ud8.." in the text only
 * takes the slow path.
 */
function jsonText(value: unknown): string {
  const json = JSON.stringify(value);
  return LONE_SURROGATE_ESCAPE.test(json)
    ? JSON.stringify(value, (_k, v: unknown) => (typeof v === 'string' ? v.replace(LONE_SURROGATE, '\ufffd') : v))
    : json;
}

const LONE_SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** A snapshot that is not I-JSON (a lone surrogate) cannot be hashed canonically: the batch is refused. */
function snapshotHash(
  hasher: SnapshotHasher,
  snapshot: Readonly<Record<string, unknown>>,
  index: number,
): ReturnType<SnapshotHasher['hash']> {
  try {
    return hasher.hash(snapshot);
  } catch (err) {
    const detail = err instanceof Error ? err.message.replace(/^\$/, 'snapshot') : String(err);
    throw new DomainError(
      'BAD_USER_INPUT',
      `events[${index}].snapshot: cannot be stored (${detail}); the batch was rejected whole, nothing was stored`,
      `events[${index}].snapshot`,
      { index },
    );
  }
}

export function startOfDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}
