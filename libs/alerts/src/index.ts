// Alerts (issue #27), delivery side: the alert shape and the `alerts` queue (shared with the
// rules that raise alerts), dispatch, destination payloads, signing, secrets at rest and the
// SSRF-refusing HTTPS client the worker delivers with.
export {
  ALERTS_QUEUE,
  ALERT_KINDS,
  ALERT_SEVERITIES,
  DELIVERY_STATUSES,
  DELIVER_JOB,
  DESTINATION_KINDS,
  SWEEP_JOB,
  alertsQueue,
  backoffDelay,
  checkAlert,
  deliverJobOptions,
  deliveryJobId,
  isUuid,
  readAlertsJob,
} from './alert';
export type {
  Alert,
  AlertKind,
  AlertSeverity,
  AlertsJobName,
  AlertsJobs,
  AlertsQueue,
  DeliverJob,
  DeliveryRetryOptions,
  DeliveryStatus,
  DestinationKind,
  Read,
} from './alert';
export { AlertDispatchError, DEFAULT_DELIVERY_RETRY, dispatchAlert, enqueueDeliveries, persistAlert } from './dispatch';
export type { DispatchDeps, PrismaTx, SqlClient } from './dispatch';
export { SecretBox, SecretBoxError, destinationAad } from './secret-box';
export type { SecretKey } from './secret-box';
export { WEBHOOK_SECRET_PREFIX, generateWebhookSecret, signWebhook, verifyWebhook, webhookHeaders } from './signing';
export { CONTENT_TYPES, cloudEvent, siemBatchBody, slackBody, teamsBody, webhookBody } from './payloads';
export {
  DeliveryNetworkError,
  UnsafeDestinationError,
  checkResolvedHost,
  checkUrlShape,
  displayHost,
  forbiddenAddress,
  safePost,
} from './safe-http';
export type { HttpAnswer, SafeHttpOptions } from './safe-http';
export { DestinationRateLimiter, SiemBatcher, classifyAnswer, sendAlert, sendSiemBatch } from './deliver';
export type { AttemptOutcome, DeliveryTarget } from './deliver';
