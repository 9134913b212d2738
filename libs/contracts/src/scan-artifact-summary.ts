import {
  verifyScanArtifact,
  type PublicKeySet,
  type ScanArtifactDocument,
  type ScanArtifactExpectations,
} from '@portcullis/bundle';
import { normalizeImage, type ArtifactLookup, type ScanArtifactSummary } from '@portcullis/policy-engine';
import { DIGEST } from './primitives';
import type { ScanArtifactLookupResult } from './scan-artifact-lookup';

/**
 * The one mapping from a verified scan artifact to what the vulnerability rules read
 * (@portcullis/policy-engine ScanArtifactSummary). Findings are passed through, not
 * copied: the engine keeps its verdicts per summary object, so a caller that caches the
 * summary per artifact evaluates each image once however many admissions name it.
 */
export function scanArtifactSummaryOf(artifact: ScanArtifactDocument, image: string): ScanArtifactSummary {
  return {
    image,
    ...(artifact.repoDigest !== undefined ? { digest: artifact.repoDigest } : {}),
    scannedAt: artifact.scannedAt,
    findings: artifact.findings,
  };
}

/**
 * What a signed artifact must match to vouch for `image` as a lookup asked it: a digest
 * query is answered by that digest's artifact (from any repository: the digest is the
 * content); a tag query by an artifact of that repository carrying that tag.
 */
export function expectedImageOf(image: string): ScanArtifactExpectations['image'] {
  if (DIGEST.test(image)) return { repoDigest: image.toLowerCase() };
  const ref = normalizeImage(image);
  if (!ref) return undefined;
  if (ref.digest !== undefined) return { repoDigest: ref.digest.toLowerCase() };
  return { repository: `${ref.registry}/${ref.repository}`, tag: ref.tag ?? 'latest' };
}

export interface ArtifactTrust {
  readonly trustedKeys: PublicKeySet;
  /** The agent's tenant: another tenant's artifact never vouches for an image here. */
  readonly tenantId: string;
}

/**
 * One answer of POST /agent/v1/scan-artifacts/lookup as the engine's ArtifactLookup:
 * NOT_FOUND is "no artifact"; FOUND is verified (signature, tenant, image) before it
 * counts, and an artifact that fails verification is a failed lookup (never "found",
 * never silently "not found"), so `onLookupFailure` decides.
 */
export function artifactLookupOf(result: ScanArtifactLookupResult, trust: ArtifactTrust): ArtifactLookup {
  if (result.status === 'NOT_FOUND') return { status: 'not-found' };
  if (!result.artifact)
    return { status: 'lookup-failed', error: `the lookup answered FOUND for ${result.image} without an artifact` };
  const verified = verifyScanArtifact(result.artifact, {
    trustedKeys: trust.trustedKeys,
    tenantId: trust.tenantId,
    image: expectedImageOf(result.image),
  });
  if (!verified.ok)
    return {
      status: 'lookup-failed',
      error: `the scan artifact for ${result.image} was refused (${verified.reason}): ${verified.message}`,
    };
  return { status: 'found', artifact: scanArtifactSummaryOf(verified.artifact, result.image) };
}
