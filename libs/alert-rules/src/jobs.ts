import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BatchSource, EventCandidate } from './matching';

/**
 * The queue between ingest and alerting: the API adds at most one `evaluate-batch` job per
 * stored batch (only when an event matched a rule); the worker folds digests and dispatches.
 * Delivery itself is the `alerts` queue's (@portcullis/alerts).
 */
export const ALERT_RULES_QUEUE = 'alert-rules';
export const EVALUATE_BATCH_JOB = 'evaluate-batch';
export const DIGEST_FLUSH_JOB = 'digest-flush';
export const PERIODIC_CHECKS_JOB = 'periodic-checks';

export interface EvaluateBatchJob extends BatchSource {
  readonly candidates: readonly EventCandidate[];
}
export interface DigestFlushJob {
  readonly tenantId: string;
  readonly ruleId: string;
  /** the window's start (Unix ms): a flush for a window already flushed finds nothing */
  readonly start: number;
}
export type PeriodicChecksJob = Readonly<Record<string, never>>;

export interface AlertRuleJobs {
  readonly [EVALUATE_BATCH_JOB]: EvaluateBatchJob;
  readonly [DIGEST_FLUSH_JOB]: DigestFlushJob;
  readonly [PERIODIC_CHECKS_JOB]: PeriodicChecksJob;
}
export type AlertRuleJobName = keyof AlertRuleJobs;
export type AlertRuleJob = {
  [N in AlertRuleJobName]: { readonly name: N; readonly data: AlertRuleJobs[N] };
}[AlertRuleJobName];
export type AlertRulesQueue = Queue<AlertRuleJobs[AlertRuleJobName], unknown, AlertRuleJobName>;

export function alertRulesQueue(connection: Redis, redisPrefix: string): AlertRulesQueue {
  return new Queue(ALERT_RULES_QUEUE, { connection, prefix: redisPrefix });
}

/** Evaluation jobs retry a database or Redis hiccup; what they dispatch is idempotent (see the worker). */
export const EVALUATE_JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 250 },
  removeOnComplete: 1_000,
  removeOnFail: 5_000,
} as const satisfies JobsOptions;

/** Redis pub/sub channel naming tenants whose alert rules changed: every API replica drops its cached rules. */
export const alertRulesChannel = (redisPrefix: string) => `${redisPrefix}:alert-rules:changed`;

export type Read<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const isString = (v: unknown): v is string => typeof v === 'string';
const CANDIDATE_FIELDS = ['a', 'x', 'e', 't', 'ns', 'k', 'n', 'ok', 'on', 'd', 'p', 'pn', 'r', 'm', 'u'] as const;

/** A job as the queue hands it over, checked against the job map (an unknown name is refused). */
export function readAlertRuleJob(name: string, data: unknown): Read<AlertRuleJob> {
  if (typeof data !== 'object' || data === null) return { ok: false, reason: `job "${name.slice(0, 60)}": no payload` };
  const d = data as Record<string, unknown>;
  switch (name) {
    case PERIODIC_CHECKS_JOB:
      return { ok: true, value: { name, data: {} } };
    case DIGEST_FLUSH_JOB:
      if (!isString(d['tenantId']) || !isString(d['ruleId']) || typeof d['start'] !== 'number')
        return { ok: false, reason: `${name}: tenantId, ruleId and start are required` };
      return { ok: true, value: { name, data: d as unknown as DigestFlushJob } };
    case EVALUATE_BATCH_JOB: {
      if (!isString(d['tenantId']) || !isString(d['clusterId']) || !isString(d['cloudScopeId']))
        return { ok: false, reason: `${name}: tenantId, clusterId and cloudScopeId are required` };
      const list = d['candidates'];
      if (!Array.isArray(list)) return { ok: false, reason: `${name}: candidates is not a list` };
      for (let i = 0; i < list.length; i++) {
        const c = list[i] as Record<string, unknown> | null;
        const bad = CANDIDATE_FIELDS.find((f) => typeof c !== 'object' || c === null || !isString(c[f]));
        if (bad) return { ok: false, reason: `${name}: candidates[${i}].${bad} is not a string` };
      }
      return { ok: true, value: { name, data: d as unknown as EvaluateBatchJob } };
    }
    default:
      return {
        ok: false,
        reason: `unknown alert-rules job "${name.slice(0, 60)}": expected ${EVALUATE_BATCH_JOB}, ${DIGEST_FLUSH_JOB} or ${PERIODIC_CHECKS_JOB}`,
      };
  }
}
