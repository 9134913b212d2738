import { checkBundleDocument, type BundleDocument } from './document';
import { signEnvelope, verifyEnvelope, type EnvelopeFailure, type SignedEnvelope } from './envelope';
import { checkScanArtifactDocument, type ScanArtifactDocument } from './scan-artifact';
import type { PublicKeySet, SigningKey } from './signing-key';

/** A document that fails its schema is never signed: the signer's bug must not become every agent's problem. */
export class InvalidDocumentError extends Error {
  constructor(what: string, problem: string) {
    super(`refusing to sign an invalid ${what}: ${problem}`);
    this.name = 'InvalidDocumentError';
  }
}

export function signBundle(bundle: BundleDocument, key: SigningKey): SignedEnvelope {
  const checked = checkBundleDocument(bundle);
  if (!checked.ok) throw new InvalidDocumentError('bundle', checked.message);
  return signEnvelope(bundle, key);
}

export function signScanArtifact(artifact: ScanArtifactDocument, key: SigningKey): SignedEnvelope {
  const checked = checkScanArtifactDocument(artifact);
  if (!checked.ok) throw new InvalidDocumentError('scan artifact', checked.message);
  return signEnvelope(artifact, key);
}

export type BundleRejection =
  EnvelopeFailure | 'INVALID_DOCUMENT' | 'WRONG_TENANT' | 'WRONG_CLUSTER' | 'EXPIRED' | 'ROLLBACK';

export type BundleVerification =
  | { readonly ok: true; readonly bundle: BundleDocument; readonly kid: string }
  | { readonly ok: false; readonly reason: BundleRejection; readonly message: string };

export interface BundleExpectations {
  readonly trustedKeys: PublicKeySet;
  /** The agent's own cluster: a bundle for another cluster is refused even when validly signed. */
  readonly clusterId: string;
  readonly now: Date;
  /** The revision the agent holds: an older one is a rollback; the same one is the same bundle. */
  readonly heldRevision?: number;
  /** When the agent knows its tenant (e.g. from the bundle it holds). */
  readonly tenantId?: string;
}

/** Everything an agent checks before it enforces a bundle; each failure has its own reason. */
export function verifyBundle(envelope: unknown, expect: BundleExpectations): BundleVerification {
  const verified = verifyEnvelope(envelope, expect.trustedKeys);
  if (!verified.ok) return verified;
  const checked = checkBundleDocument(verified.document);
  if (!checked.ok)
    return {
      ok: false,
      reason: 'INVALID_DOCUMENT',
      message: `the signed document is not a bundle: ${checked.message}`,
    };
  const bundle = checked.bundle;
  if (expect.tenantId !== undefined && bundle.tenantId !== expect.tenantId) {
    return {
      ok: false,
      reason: 'WRONG_TENANT',
      message: `the bundle is for tenant ${bundle.tenantId}, not ${expect.tenantId}`,
    };
  }
  if (bundle.clusterId !== expect.clusterId) {
    return {
      ok: false,
      reason: 'WRONG_CLUSTER',
      message: `the bundle is for cluster ${bundle.clusterId}, not ${expect.clusterId}`,
    };
  }
  if (Date.parse(bundle.expiresAt) <= expect.now.getTime()) {
    return {
      ok: false,
      reason: 'EXPIRED',
      message: `revision ${bundle.revision} expired at ${bundle.expiresAt} (now ${expect.now.toISOString()})`,
    };
  }
  if (expect.heldRevision !== undefined && bundle.revision < expect.heldRevision) {
    return {
      ok: false,
      reason: 'ROLLBACK',
      message: `revision ${bundle.revision} is older than the held revision ${expect.heldRevision}`,
    };
  }
  return { ok: true, bundle, kid: verified.kid };
}

export type ScanArtifactRejection = EnvelopeFailure | 'INVALID_DOCUMENT' | 'WRONG_TENANT' | 'WRONG_IMAGE';

export type ScanArtifactVerification =
  | { readonly ok: true; readonly artifact: ScanArtifactDocument; readonly kid: string }
  | { readonly ok: false; readonly reason: ScanArtifactRejection; readonly message: string };

export interface ScanArtifactExpectations {
  readonly trustedKeys: PublicKeySet;
  readonly tenantId?: string;
  /**
   * The image the agent asked about. A validly signed artifact of another image must not
   * vouch for this one, so whatever is given here must match the artifact.
   */
  readonly image?: { readonly repository?: string; readonly repoDigest?: string; readonly tag?: string };
}

export function verifyScanArtifact(envelope: unknown, expect: ScanArtifactExpectations): ScanArtifactVerification {
  const verified = verifyEnvelope(envelope, expect.trustedKeys);
  if (!verified.ok) return verified;
  const checked = checkScanArtifactDocument(verified.document);
  if (!checked.ok)
    return {
      ok: false,
      reason: 'INVALID_DOCUMENT',
      message: `the signed document is not a scan artifact: ${checked.message}`,
    };
  const artifact = checked.artifact;
  if (expect.tenantId !== undefined && artifact.tenantId !== expect.tenantId) {
    return {
      ok: false,
      reason: 'WRONG_TENANT',
      message: `the artifact is for tenant ${artifact.tenantId}, not ${expect.tenantId}`,
    };
  }
  const want = expect.image;
  if (want?.repository !== undefined && artifact.repository !== want.repository) {
    return {
      ok: false,
      reason: 'WRONG_IMAGE',
      message: `the artifact is for repository ${artifact.repository}, not ${want.repository}`,
    };
  }
  if (want?.repoDigest !== undefined && artifact.repoDigest !== want.repoDigest) {
    return {
      ok: false,
      reason: 'WRONG_IMAGE',
      message: `the artifact is for digest ${artifact.repoDigest ?? '(none: tag-bound)'}, not ${want.repoDigest}`,
    };
  }
  if (want?.tag !== undefined && !artifact.tags.includes(want.tag)) {
    return {
      ok: false,
      reason: 'WRONG_IMAGE',
      message: `the artifact's tags (${artifact.tags.join(', ') || 'none'}) do not include ${want.tag}`,
    };
  }
  return { ok: true, artifact, kid: verified.kid };
}
