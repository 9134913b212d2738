export { canonicalJson, CanonicalJsonError } from './canonical-json';
export { contentHash, bundleShapeError } from './document';
export type { BundleDocument, BundlePolicy, BundleContent, AgentSettings, PolicyType, PolicyAction } from './document';
export { signEnvelope, verifyEnvelope } from './envelope';
export type { SignedEnvelope, EnvelopeFailure, EnvelopeResult } from './envelope';
export { SigningKey, generateSigningKey, jwkThumbprint, toJwks, fromJwks, loadKeyring } from './keys';
export type { TrustedKey, Jwks, Keyring } from './keys';
export { verifyBundle } from './verify-bundle';
export type { BundleVerification, BundleRejection, BundleExpectations } from './verify-bundle';
