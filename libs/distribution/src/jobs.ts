import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { DISTRIBUTION_QUEUE } from './channels';

/** What the API records in its outbox; each becomes a job of the same name. */
export const DOMAIN_EVENT_TYPES = [
  'policy.created',
  'policy.updated',
  'policy.deleted',
  'policy.exemptions-changed',
  'cloud-scope.deleted',
  'cluster.registered',
  'cluster.deleted',
  'cluster.enforcement-mode-changed',
] as const;
export type DomainEventType = (typeof DOMAIN_EVENT_TYPES)[number];

/** What a domain event says it may affect. */
export interface DomainEventPayload {
  readonly policyId?: string;
  readonly clusterId?: string;
  readonly cloudScopeId?: string;
  /** Cloud scopes whose clusters may be affected; empty = the whole tenant. */
  readonly cloudScopeIds?: readonly string[];
  readonly clusterIds?: readonly string[];
}

/** A domain event on the queue: recompile the bundles of the clusters it may affect. */
export interface RecompileJob extends DomainEventPayload {
  /** The outbox row's id, as text (absent on a job not born from the outbox). */
  readonly eventId?: string;
  readonly tenantId: string;
}

/** The worker's repeatable jobs: re-publish events whose publish failed; recompile every tenant. */
export const RELAY_OUTBOX_JOB = 'relay-outbox';
export const RECONCILE_JOB = 'reconcile';
export type ScheduledJob = Readonly<Record<string, never>>;

/** Every job of the distribution queue: its name -> its payload. */
export interface DistributionJobs extends Record<DomainEventType, RecompileJob> {
  readonly [RELAY_OUTBOX_JOB]: ScheduledJob;
  readonly [RECONCILE_JOB]: ScheduledJob;
}
export type DistributionJobName = keyof DistributionJobs;
export type DistributionJob = {
  [N in DistributionJobName]: { readonly name: N; readonly data: DistributionJobs[N] };
}[DistributionJobName];
export type DistributionQueue = Queue<DistributionJobs[DistributionJobName], unknown, DistributionJobName>;

/** The distribution queue under the deployment's Redis prefix, typed by the job map. */
export function distributionQueue(connection: Redis, redisPrefix: string): DistributionQueue {
  return new Queue(DISTRIBUTION_QUEUE, { connection, prefix: redisPrefix });
}

/**
 * An event's job: retried with backoff (a compile that failed on a database hiccup runs
 * again; 10 attempts from 0.5 s span about 4 minutes, then the reconcile pass covers it),
 * and kept a while after it ends so a failure can be read on the job.
 */
export const EVENT_JOB_OPTIONS = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: 10_000,
  removeOnFail: 10_000,
} as const satisfies JobsOptions;

/** The event id is the job id: publishing an event already on the queue adds nothing. */
export const eventJobId = (eventId: bigint | string) => `event-${eventId}`;

export interface OutboxEvent {
  readonly id: bigint;
  readonly tenantId: string;
  readonly type: DomainEventType;
  readonly payload: DomainEventPayload;
}

/** The one way a domain event becomes a job: the API's outbox publishes with it, the worker's relay re-publishes with it. */
export async function enqueueDomainEvent(queue: DistributionQueue, event: OutboxEvent): Promise<void> {
  const data: RecompileJob = { ...event.payload, eventId: event.id.toString(), tenantId: event.tenantId };
  await queue.add(event.type, data, { jobId: eventJobId(event.id), ...EVENT_JOB_OPTIONS });
}

export type Read<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export const isDomainEventType = (name: string): name is DomainEventType =>
  (DOMAIN_EVENT_TYPES as readonly string[]).includes(name);

/** A stored event's payload (JSON from the outbox, or from a job), checked field by field. */
export function readDomainEventPayload(value: unknown): Read<DomainEventPayload> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, reason: 'the payload is not an object' };
  const v = value as Record<string, unknown>;
  for (const key of ['policyId', 'clusterId', 'cloudScopeId'] as const) {
    if (v[key] !== undefined && typeof v[key] !== 'string') return { ok: false, reason: `${key} is not a string` };
  }
  for (const key of ['cloudScopeIds', 'clusterIds'] as const) {
    const list = v[key];
    if (list !== undefined && !(Array.isArray(list) && list.every((x) => typeof x === 'string')))
      return { ok: false, reason: `${key} is not a list of strings` };
  }
  return { ok: true, value: v as DomainEventPayload };
}

/**
 * A job as the queue hands it over, checked against the job map. An unknown name (a
 * producer newer than this worker, or a mistake) is refused, never read as a recompile.
 */
export function readDistributionJob(name: string, data: unknown): Read<DistributionJob> {
  if (name === RELAY_OUTBOX_JOB || name === RECONCILE_JOB) return { ok: true, value: { name, data: {} } };
  if (!isDomainEventType(name))
    return {
      ok: false,
      reason: `unknown distribution job "${name.slice(0, 100)}": expected one of ${[...DOMAIN_EVENT_TYPES, RELAY_OUTBOX_JOB, RECONCILE_JOB].join(', ')}`,
    };
  const payload = readDomainEventPayload(data);
  if (!payload.ok) return { ok: false, reason: `distribution job "${name}": ${payload.reason}` };
  const job = payload.value as Record<string, unknown>;
  if (typeof job['tenantId'] !== 'string' || job['tenantId'] === '')
    return { ok: false, reason: `distribution job "${name}": tenantId is missing` };
  if (job['eventId'] !== undefined && typeof job['eventId'] !== 'string')
    return { ok: false, reason: `distribution job "${name}": eventId is not a string` };
  return { ok: true, value: { name, data: job as unknown as RecompileJob } };
}
