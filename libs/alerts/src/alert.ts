import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';

export const ALERT_KINDS = [
  'BLOCK_DENIAL', // a Block-mode policy denied an admission
  'FIRST_WOULD_DENY', // the first would-be denial of a workload under an Audit policy (per workload and rule)
  'POLICY_READY', // a policy became ready to switch to Block (audit-to-deny readiness)
  'AGENT_SILENT', // no status/events from a cluster's agent for longer than N minutes
  'BUNDLE_BEHIND', // a cluster's applied revision behind its latest for longer than N minutes
  'EVENTS_DROPPED', // an agent reports dropped events
  'CONFIG_CHANGE', // policy, exemption or role change (from the audit log)
  'TEST', // sendTestAlert
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export const ALERT_SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

export interface Alert {
  /** uuid v4: the idempotency key (Standard Webhooks `webhook-id`, CloudEvents `id`, part of the job id). */
  readonly id: string;
  readonly tenantId: string;
  /** null for TEST */
  readonly ruleId: string | null;
  readonly ruleName: string | null;
  readonly kind: AlertKind;
  readonly severity: AlertSeverity;
  /** one line, <= 200 chars, plain text */
  readonly title: string;
  /** <= 2000 chars, plain text (names policy, rule, object, fix) */
  readonly summary: string;
  /** ISO time of the (first) triggering event */
  readonly occurredAt: string;
  /** 1, or the number of occurrences folded into this digest */
  readonly count: number;
  /** digests: end of the folded window */
  readonly windowEnd?: string;
  /** for scope visibility of the delivery log; absent = a tenant-wide alert (tenant-level roles only) */
  readonly cloudScopeId?: string;
  readonly cluster?: { readonly id: string; readonly name: string };
  readonly namespace?: string;
  readonly workload?: { readonly kind: string; readonly name: string };
  readonly policy?: { readonly id: string; readonly name: string; readonly action: 'AUDIT' | 'BLOCK' };
  readonly rule?: string;
  readonly decision?: 'ALLOW' | 'DENY' | 'WARN';
  /** <= 10 examples in a digest */
  readonly samples?: ReadonlyArray<Readonly<Record<string, string>>>;
  /** small, kind-specific */
  readonly details?: Readonly<Record<string, unknown>>;
}

export const DESTINATION_KINDS = ['WEBHOOK', 'SLACK', 'TEAMS', 'SIEM'] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

export const DELIVERY_STATUSES = ['QUEUED', 'RETRYING', 'DELIVERED', 'DEAD'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** Queue `alerts`: one job per (alert, destination); the job id is derived from both, so an alert is enqueued once. */
export const ALERTS_QUEUE = 'alerts';
export const DELIVER_JOB = 'deliver';
/** The worker's repeatable job: re-enqueues deliveries still pending whose job is gone (a Redis loss). */
export const SWEEP_JOB = 'sweep';

export interface DeliverJob {
  readonly tenantId: string;
  readonly alertId: string;
  readonly destinationId: string;
}
export interface AlertsJobs {
  readonly [DELIVER_JOB]: DeliverJob;
  readonly [SWEEP_JOB]: Readonly<Record<string, never>>;
}
export type AlertsJobName = keyof AlertsJobs;
export type AlertsQueue = Queue<AlertsJobs[AlertsJobName], unknown, AlertsJobName>;

/** The alerts queue under the deployment's Redis prefix, typed by the job map. */
export function alertsQueue(connection: Redis, redisPrefix: string): AlertsQueue {
  return new Queue(ALERTS_QUEUE, { connection, prefix: redisPrefix });
}

/** One delivery's job id. BullMQ refuses ':' in custom ids; uuids hold none. */
export const deliveryJobId = (alertId: string, destinationId: string) => `alert-${alertId}-${destinationId}`;

/**
 * Attempts of one delivery and the base of their backoff (exponential with jitter, see
 * backoffDelay); the job is kept a while after it ends so a second dispatch of the same alert
 * finds it and adds nothing (the delivery row refuses it for good).
 */
export interface DeliveryRetryOptions {
  readonly attempts: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

export function deliverJobOptions(retry: DeliveryRetryOptions): JobsOptions {
  return {
    attempts: retry.attempts,
    backoff: { type: 'alert-delivery', delay: retry.backoffBaseMs },
    removeOnComplete: { age: 24 * 3600, count: 100_000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 100_000 },
  };
}

/**
 * The wait before attempt `attemptsMade + 1`: base * 2^(attemptsMade-1), capped, with full
 * +-50 % jitter so receivers that came back are not hit by every sender at once; never less
 * than what the receiver asked for with Retry-After.
 */
export function backoffDelay(
  attemptsMade: number,
  retry: Pick<DeliveryRetryOptions, 'backoffBaseMs' | 'backoffMaxMs'>,
  retryAfterMs = 0,
  random: () => number = Math.random,
): number {
  const exp = Math.min(retry.backoffMaxMs, retry.backoffBaseMs * 2 ** Math.max(0, attemptsMade - 1));
  const jittered = Math.round(exp * (0.5 + random()));
  return Math.max(jittered, Math.min(retryAfterMs, retry.backoffMaxMs * 2));
}

export type Read<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID.test(v);

/** A job as the queue hands it over, checked against the job map. */
export function readAlertsJob(
  name: string,
  data: unknown,
): Read<{ readonly name: typeof DELIVER_JOB; readonly data: DeliverJob } | { readonly name: typeof SWEEP_JOB }> {
  if (name === SWEEP_JOB) return { ok: true, value: { name } };
  if (name !== DELIVER_JOB)
    return { ok: false, reason: `unknown alerts job "${name.slice(0, 100)}": expected ${DELIVER_JOB} or ${SWEEP_JOB}` };
  if (typeof data !== 'object' || data === null)
    return { ok: false, reason: 'alerts job: the payload is not an object' };
  const d = data as Record<string, unknown>;
  for (const key of ['tenantId', 'alertId', 'destinationId'] as const) {
    if (!isUuid(d[key])) return { ok: false, reason: `alerts job: ${key} is not a uuid` };
  }
  return {
    ok: true,
    value: {
      name,
      data: {
        tenantId: d['tenantId'] as string,
        alertId: d['alertId'] as string,
        destinationId: d['destinationId'] as string,
      },
    },
  };
}

/** Checks an alert before it is stored: names the first field that is wrong. */
export function checkAlert(alert: Alert): string | null {
  if (!isUuid(alert.id)) return 'id must be a uuid';
  if (!isUuid(alert.tenantId)) return 'tenantId must be a uuid';
  if (alert.ruleId !== null && !isUuid(alert.ruleId)) return 'ruleId must be a uuid or null';
  if (!(ALERT_KINDS as readonly string[]).includes(alert.kind)) return `kind must be one of ${ALERT_KINDS.join(', ')}`;
  if (!(ALERT_SEVERITIES as readonly string[]).includes(alert.severity))
    return `severity must be one of ${ALERT_SEVERITIES.join(', ')}`;
  if (
    typeof alert.title !== 'string' ||
    alert.title.length === 0 ||
    alert.title.length > 200 ||
    /[\r\n]/.test(alert.title)
  )
    return 'title must be one line of 1-200 characters';
  if (typeof alert.summary !== 'string' || alert.summary.length > 2000)
    return 'summary must be at most 2000 characters';
  if (Number.isNaN(Date.parse(alert.occurredAt))) return 'occurredAt must be an ISO time';
  if (!Number.isInteger(alert.count) || alert.count < 1) return 'count must be a whole number >= 1';
  if (alert.windowEnd !== undefined && Number.isNaN(Date.parse(alert.windowEnd)))
    return 'windowEnd must be an ISO time';
  if (alert.cloudScopeId !== undefined && !isUuid(alert.cloudScopeId)) return 'cloudScopeId must be a uuid';
  if (alert.cluster !== undefined && !isUuid(alert.cluster.id)) return 'cluster.id must be a uuid';
  if (alert.samples !== undefined && alert.samples.length > 10) return 'samples must hold at most 10 examples';
  if (alert.details !== undefined && JSON.stringify(alert.details).length > 8192)
    return 'details must be at most 8 KiB as JSON';
  return null;
}
