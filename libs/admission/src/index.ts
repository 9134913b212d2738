// The agent's admission decision, shared by the agent's webhook and the CLI (the demo's past
// admissions): AdmissionReview parsing, a verified bundle made enforceable, the one decision
// function, findings, owner resolution, the event line and snapshot, the messages; and the
// agent side of the API (its HTTPS client and the scan-artifact resolver), which both use.
// Framework-free; not a pure lib: the client and the resolver do network I/O.
export { ApiClient, ApiUnreachableError, describeAnswer } from './api-client';
export type { ApiRequest, ApiResponse } from './api-client';
export { ArtifactResolver } from './artifact-resolver';
export type { ResolverOptions } from './artifact-resolver';
export { DECISION_RESULTS, MAX_POD_CONTAINERS, decideAdmission } from './decide';
export type {
  AdmissionContext,
  AdmissionOutcome,
  AdmissionSettings,
  DecisionResult,
  HeldBundle,
  ScanArtifactSource,
} from './decide';
export { toEnforceable } from './enforceable';
export type { EnforceableBundle } from './enforceable';
export { eventLine, snapshotJson, splicedSnapshot, toFindings } from './event';
export type { EventInput } from './event';
export { denyMessage, warningsFor } from './messages';
export type { Decided } from './messages';
export { resolveOwner } from './owner';
export {
  MAX_REVIEW_NESTING,
  REVIEW_API_VERSIONS,
  malformedResponse,
  nestsDeeperThan,
  parseReview,
  reviewJson,
} from './review';
export type { AdmissionRequestView, ParsedReview, ReviewApiVersion, ReviewResponse } from './review';
