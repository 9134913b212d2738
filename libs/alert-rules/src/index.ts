// Alert rules (issue #27): the rule model and its filters, in-memory matching of ingested
// events, the Redis-backed digest windows and the `alert-rules` queue's typed jobs. Shared by
// the API (matching on ingest) and the worker (digests, periodic checks, dispatch).
export {
  ALERT_RULE_KINDS,
  ALERT_SEVERITIES,
  EVENT_RULE_KINDS,
  PERIODIC_RULE_KINDS,
  THRESHOLD_RULE_KINDS,
  CompiledAlertRule,
  compileRules,
} from './model';
export type { AlertRuleKind, AlertRuleRecord, AlertSeverity } from './model';
export { matchBatch } from './matching';
export type { BatchSource, EventCandidate } from './matching';
export { DIGEST_SAMPLES, DigestWindows } from './digest';
export type { Admission, Folded, Occurrence } from './digest';
export {
  ALERT_RULES_QUEUE,
  DIGEST_FLUSH_JOB,
  EVALUATE_BATCH_JOB,
  EVALUATE_JOB_OPTIONS,
  PERIODIC_CHECKS_JOB,
  alertRulesChannel,
  alertRulesQueue,
  readAlertRuleJob,
} from './jobs';
export type {
  AlertRuleJob,
  AlertRuleJobName,
  AlertRuleJobs,
  AlertRulesQueue,
  DigestFlushJob,
  EvaluateBatchJob,
  PeriodicChecksJob,
} from './jobs';
