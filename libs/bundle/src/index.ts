// Signed documents agents trust: policy bundles and scan artifacts, their canonical
// JSON, Ed25519 envelopes, and the keys that sign and verify them. No I/O but key files.
export { CanonicalFragment, canonicalJson, CanonicalJsonError } from './canonical-json';
export {
  BundleDocumentSchema,
  ENFORCEMENT_MODES,
  checkBundleDocument,
  contentHash,
  bundleShapeError,
} from './document';
export type {
  AgentSettings,
  BundleContent,
  BundleDocument,
  BundleDocumentCheck,
  BundlePolicy,
  EnforcementModeSetting,
  JsonObject,
  PolicyAction,
  PolicyType,
} from './document';
export { ScanArtifactDocumentSchema, checkScanArtifactDocument } from './scan-artifact';
export type { ScanArtifactDocument, ScanArtifactDocumentCheck, ScanFinding, Severity } from './scan-artifact';
export { MAX_PAYLOAD_BYTES, signEnvelope, verifyEnvelope } from './envelope';
export type { EnvelopeFailure, EnvelopeResult, SignedEnvelope, SignedEnvelope as SignedBundle } from './envelope';
export { SigningKey, generateSigningKey, isValidKid, jwkThumbprint } from './signing-key';
export type { PublicKeySet, TrustedKey } from './signing-key';
export { JwksError, fromJwks, toJwks } from './jwks';
export type { Jwk, Jwks } from './jwks';
export { DEVELOPMENT_KEY_MARKER, SigningKeyError, loadKeyring, loadSigningKeys } from './key-sources';
export type { Keyring, SigningKeySource } from './key-sources';
export { InvalidDocumentError, signBundle, signScanArtifact, verifyBundle, verifyScanArtifact } from './verify';
export type {
  BundleExpectations,
  BundleRejection,
  BundleVerification,
  ScanArtifactExpectations,
  ScanArtifactRejection,
  ScanArtifactVerification,
} from './verify';
