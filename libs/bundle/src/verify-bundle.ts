import { bundleShapeError, type BundleDocument } from './document';
import { verifyEnvelope, type EnvelopeFailure } from './envelope';
import type { TrustedKey } from './keys';

export type BundleRejection = EnvelopeFailure | 'INVALID_DOCUMENT' | 'WRONG_CLUSTER' | 'EXPIRED' | 'ROLLBACK';

export type BundleVerification =
  | { readonly ok: true; readonly bundle: BundleDocument }
  | { readonly ok: false; readonly reason: BundleRejection; readonly message: string };

export interface BundleExpectations {
  readonly trustedKeys: readonly TrustedKey[];
  readonly clusterId: string;
  readonly now: Date;
  /** The revision the agent holds: an older one is a rollback; the same one is the same bundle. */
  readonly heldRevision?: number;
}

/** Everything an agent checks before it enforces a bundle; each failure has its own reason. */
export function verifyBundle(envelope: unknown, expect: BundleExpectations): BundleVerification {
  const verified = verifyEnvelope(envelope, expect.trustedKeys);
  if (!verified.ok) return verified;
  const shape = bundleShapeError(verified.document);
  if (shape) return { ok: false, reason: 'INVALID_DOCUMENT', message: `the signed bundle is not a bundle: ${shape}` };
  const bundle = verified.document as BundleDocument;
  if (bundle.clusterId !== expect.clusterId) {
    return { ok: false, reason: 'WRONG_CLUSTER', message: `the bundle is for cluster ${bundle.clusterId}, not ${expect.clusterId}` };
  }
  if (Date.parse(bundle.expiresAt) <= expect.now.getTime()) {
    return { ok: false, reason: 'EXPIRED', message: `the bundle expired at ${bundle.expiresAt}` };
  }
  if (expect.heldRevision !== undefined && bundle.revision < expect.heldRevision) {
    return { ok: false, reason: 'ROLLBACK', message: `revision ${bundle.revision} is older than the held revision ${expect.heldRevision}` };
  }
  return { ok: true, bundle };
}
