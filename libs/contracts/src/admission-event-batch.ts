import { z } from 'zod';
import { AdmissionEventSchema } from './admission-event';
import { checkAdmissionEventFast } from './admission-event-fast';
import { SNAPSHOT_HASH, type AdmissionEvent } from './admission-event-model';
import { toErrors, type ContractError } from './result';

export const MAX_EVENTS_PER_BATCH = 1000;

/**
 * Largest batch body the API takes: JSON bytes after decompression, and bytes on the
 * wire (gzip or not). Larger bodies are answered 413; the agent splits by size too.
 */
export const MAX_BATCH_JSON_BYTES = 32 * 1024 * 1024;
export const MAX_BATCH_WIRE_BYTES = 8 * 1024 * 1024;

export interface AdmissionEventBatch {
  readonly events: AdmissionEvent[];
}

/** Repeats of an eventId inside one batch: the API is idempotent across uploads, a repeat within one is an agent bug. */
function duplicateIssues(events: readonly AdmissionEvent[]): Array<{ index: number; message: string }> {
  const first = new Map<string, number>();
  const issues: Array<{ index: number; message: string }> = [];
  for (let i = 0; i < events.length; i++) {
    const id = events[i]!.eventId.toLowerCase();
    const earlier = first.get(id);
    if (earlier === undefined) first.set(id, i);
    else issues.push({ index: i, message: `repeats events[${earlier}].eventId` });
  }
  return issues;
}

/** POST /agent/v1/admission-events: one upload of the agent's spool. */
export const AdmissionEventBatchSchema: z.ZodType<AdmissionEventBatch, z.ZodTypeDef, unknown> = z
  .object({ events: z.array(AdmissionEventSchema).min(1).max(MAX_EVENTS_PER_BATCH) })
  .superRefine((batch, ctx) => {
    for (const d of duplicateIssues(batch.events))
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['events', d.index, 'eventId'], message: d.message });
  });

/**
 * A batch is accepted or rejected whole. On rejection `index` is the first offending
 * event (null when the batch itself is wrong, e.g. empty or too long) and `errors`
 * lists problems in event order, the first one first.
 */
export type BatchValidated =
  | { readonly ok: true; readonly value: AdmissionEventBatch }
  | { readonly ok: false; readonly index: number | null; readonly errors: readonly ContractError[] };

export function validateAdmissionEventBatch(value: unknown): BatchValidated {
  const fast = checkBatchFast(value);
  if (fast) return { ok: true, value: fast };
  const r = AdmissionEventBatchSchema.safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  const issues = [...r.error.issues].sort((a, b) => eventIndex(a.path) - eventIndex(b.path));
  const index = eventIndex(issues[0]!.path);
  return { ok: false, index: Number.isFinite(index) ? index : null, errors: toErrors(issues) };
}

function checkBatchFast(value: unknown): AdmissionEventBatch | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const events = (value as { events?: unknown }).events;
  if (!Array.isArray(events) || events.length < 1 || events.length > MAX_EVENTS_PER_BATCH) return undefined;
  const out = new Array<AdmissionEvent>(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = checkAdmissionEventFast(events[i]);
    if (!e) return undefined;
    out[i] = e;
  }
  return duplicateIssues(out).length === 0 ? { events: out } : undefined;
}

/** events[i]... -> i; anything about the batch itself sorts first. */
function eventIndex(path: ReadonlyArray<string | number>): number {
  return path[0] === 'events' && typeof path[1] === 'number' ? path[1] : -Infinity;
}

/**
 * The API's answer to an accepted batch (200). `snapshots` names, once per distinct snapshot,
 * the id under which the snapshot of `events[index]` is stored: the agent may send that id
 * (`snapshotHash`) instead of the same snapshot later. `unknownSnapshots` lists the events
 * whose `snapshotHash` the tenant holds no snapshot for (their events are stored, but cannot
 * be re-evaluated): the agent sends such a snapshot in full again.
 */
export interface AdmissionEventBatchResult {
  /** Events stored by this upload. */
  readonly accepted: number;
  /** Events already stored by an earlier upload (a re-send): nothing was written for them. */
  readonly duplicates: number;
  /** Events older than the tenant's retention: acknowledged, not stored. */
  readonly expired: number;
  readonly snapshots: ReadonlyArray<{ readonly index: number; readonly hash: string }>;
  readonly unknownSnapshots: readonly number[];
}

/**
 * The snapshot ids of an answer, checked against a batch of `events` events; whatever is not
 * well-formed is left out (an older API answers without them: the agent then keeps sending
 * snapshots in full).
 */
export function snapshotIdsOf(
  answer: unknown,
  events: number,
): { stored: Array<{ index: number; hash: string }>; unknown: number[] } {
  const stored: Array<{ index: number; hash: string }> = [];
  const unknown: number[] = [];
  if (typeof answer !== 'object' || answer === null) return { stored, unknown };
  const isIndex = (i: unknown): i is number => Number.isInteger(i) && (i as number) >= 0 && (i as number) < events;
  const { snapshots, unknownSnapshots } = answer as { snapshots?: unknown; unknownSnapshots?: unknown };
  if (Array.isArray(snapshots)) {
    for (const s of snapshots as unknown[]) {
      const { index, hash } = (typeof s === 'object' && s !== null ? s : {}) as { index?: unknown; hash?: unknown };
      if (isIndex(index) && typeof hash === 'string' && SNAPSHOT_HASH.test(hash)) stored.push({ index, hash });
    }
  }
  if (Array.isArray(unknownSnapshots)) for (const i of unknownSnapshots as unknown[]) if (isIndex(i)) unknown.push(i);
  return { stored, unknown };
}
