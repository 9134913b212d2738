export { liveExemptions, policyScopeOf, scopeMatch, namespaceDecision } from './applicability';
export type { ScopedPolicy, ClusterRef, ScopeMatch, NamespaceDecision, ExemptionRow } from './applicability';
export { BundleCompiler } from './compiler';
export type { CompilerOptions, CompileResult, RevisionPublisher } from './compiler';
export { bundleChannel, credentialRevocationChannel, DISTRIBUTION_QUEUE } from './channels';
export {
  DOMAIN_EVENT_TYPES,
  EVENT_JOB_OPTIONS,
  RECONCILE_JOB,
  RELAY_OUTBOX_JOB,
  distributionQueue,
  enqueueDomainEvent,
  eventJobId,
  isDomainEventType,
  readDistributionJob,
  readDomainEventPayload,
} from './jobs';
export type {
  DistributionJob,
  DistributionJobName,
  DistributionJobs,
  DistributionQueue,
  DomainEventPayload,
  DomainEventType,
  OutboxEvent,
  Read,
  RecompileJob,
  ScheduledJob,
} from './jobs';
