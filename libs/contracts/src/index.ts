// Wire schemas shared by the API and the agent, runtime-validated with zod. Errors name
// the path (`events[3].decision`). Unknown properties are dropped, not refused, so an
// agent newer than the API still gets its data in; anything an old API must not
// ignore needs a new endpoint version.
export { AdmissionEventSchema, FindingSchema, validateAdmissionEvent } from './admission-event';
export {
  ADMISSION_DECISIONS,
  ADMISSION_OPERATIONS,
  EVENT_LIMITS,
  MAX_SNAPSHOT_BYTES,
  SNAPSHOT_HASH,
  decisionFor,
} from './admission-event-model';
export type { AdmissionDecision, AdmissionEvent, AdmissionOperation, Finding } from './admission-event-model';
export {
  AdmissionEventBatchSchema,
  MAX_BATCH_JSON_BYTES,
  MAX_BATCH_WIRE_BYTES,
  MAX_EVENTS_PER_BATCH,
  snapshotIdsOf,
  validateAdmissionEventBatch,
} from './admission-event-batch';
export type { AdmissionEventBatch, AdmissionEventBatchResult, BatchValidated } from './admission-event-batch';
export { AgentStatusSchema, validateAgentStatus } from './agent-status';
export type { AgentStatus } from './agent-status';
export { DIGEST, IMAGE_REFERENCE, INT4_MAX, parseDecimal, SUB_RESOURCE } from './primitives';
export { jsonFitsWithin } from './json-size';
export { controlCharacterProblem, findControlCharacter, withoutControlCharacters } from './control-characters';
export type { ControlCharacterFinding } from './control-characters';
export { ScanArtifactDocumentSchema, validateScanArtifactDocument } from './scan-artifact';
export type { ScanArtifactDocument, ScanFinding, Severity } from './scan-artifact';
export {
  MAX_LOOKUP_IMAGES,
  ScanArtifactLookupRequestSchema,
  ScanArtifactLookupResponseSchema,
  ScanArtifactLookupResultSchema,
  SignedEnvelopeSchema,
  validateScanArtifactLookupRequest,
  validateScanArtifactLookupResponse,
} from './scan-artifact-lookup';
export type {
  ScanArtifactLookupRequest,
  ScanArtifactLookupResponse,
  ScanArtifactLookupResult,
} from './scan-artifact-lookup';
export { artifactLookupOf, expectedImageOf, scanArtifactSummaryOf } from './scan-artifact-summary';
export type { ArtifactTrust } from './scan-artifact-summary';
export { MAX_ERRORS } from './result';
export type { ContractError, Validated } from './result';
export { SECURITY_HEADERS, deadlineCheckInterval } from './http-edge';
export { SnapshotHasher, prepareSnapshot } from './snapshot-id';
export type { PreparedSnapshot } from './snapshot-id';
export { eventTerms, filterTerms } from './inventory-terms';
export type { InventoryTermFilter } from './inventory-terms';
export {
  RunningViolationSchema,
  RunningWorkloadSchema,
  WORKLOAD_REPORT_LIMITS,
  WORKLOAD_REPORT_MODES,
  WorkloadRefSchema,
  WorkloadReportSchema,
  validateWorkloadReport,
  workloadKey,
} from './workload-report';
export type {
  RunningViolation,
  RunningWorkload,
  WorkloadRef,
  WorkloadReport,
  WorkloadReportMode,
  WorkloadReportResult,
} from './workload-report';
