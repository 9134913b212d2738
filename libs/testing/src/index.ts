/**
 * @portcullis/testing: what the tests and benches of every app share. Test code only; it
 * starts the apps through their entry points (bootstrap, root modules, compiled main.js)
 * and never reaches their internals. `run.ts` beside it is `npm test`, not exported.
 */
export { FIXTURE_POLICY_ID, admissionEvent, finding } from './admission-events';
export { NO_DB_REASON, onlyError, startApi, testDatabaseConfigured } from './api-harness';
export type { ApiHarness, GqlResult } from './api-harness';
export { startApiProcess } from './api-process';
export type { ApiProcess } from './api-process';
export { startWorker } from './worker-harness';
export { ControlPlane } from './control-plane';
export type { ArtifactAnswer } from './control-plane';
export { testTls } from './pki';
export type { TestTls } from './pki';
export { agentEnv, eventually, memoryLogger, newAgentToken, spawnAgent, tempDir } from './agent-env';
export type { AgentProcess } from './agent-env';
export {
  CLUSTER,
  TENANT,
  bundleDocument,
  misconfigurationPolicy,
  newId,
  onlyRule,
  signedBundle,
  vulnerabilityPolicy,
} from './bundles';
export { SHARED, SHARED_MISSING, postReview, readJson, reviewOf, wrapRequest } from './reviews';
export type { ReviewAnswer } from './reviews';
export {
  NO_SCANS,
  SCANS,
  createUploadToken,
  lookupScanArtifacts,
  ok,
  readReport,
  registerCluster,
  scansPresent,
  uploadScanReport,
} from './scans';
export { startKubeApi } from './kube-api';
export { manifestWorkloads, putRunning } from './running-cluster';
export type { KubeApiOptions, KubeApiStandIn, KubeObject, ServedRequest, StatusAnswer, WriteRequest } from './kube-api';
export * from './vap';
