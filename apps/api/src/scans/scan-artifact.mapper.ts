import type { ScanArtifactDocument, SignedEnvelope } from '@portcullis/bundle';
import type { Prisma } from '@portcullis/db';
import { countDistinct, type VulnerabilityCounts } from './vulnerability-counts';

/**
 * The one mapping between a signed scan artifact and its scan_artifacts row: the columns are
 * read from the signed document (so what the portal lists is what agents verify), and the
 * row is read back into the view the portal and the upload receipt share.
 */

/** The columns that describe the artifact, from the document that was signed. */
export function artifactColumns(document: ScanArtifactDocument) {
  const counts = countDistinct(document.findings);
  return {
    repository: document.repository,
    tags: [...document.tags],
    repoDigest: document.repoDigest ?? null,
    imageId: document.imageId ?? null,
    tagBound: document.tagBound,
    scannerName: document.scanner.name,
    scannerVersion: document.scanner.version,
    scannedAt: new Date(document.scannedAt),
    criticalCount: counts.critical,
    highCount: counts.high,
    mediumCount: counts.medium,
    lowCount: counts.low,
    unknownCount: counts.unknown,
    findingsCount: document.findings.length,
  } satisfies Partial<Prisma.ScanArtifactCreateManyInput>;
}

/** What the summary reads of a row: never the envelope (up to megabytes). */
export const artifactSummarySelect = {
  id: true,
  repository: true,
  tags: true,
  repoDigest: true,
  imageId: true,
  tagBound: true,
  scannerName: true,
  scannerVersion: true,
  scannedAt: true,
  receivedAt: true,
  criticalCount: true,
  highCount: true,
  mediumCount: true,
  lowCount: true,
  unknownCount: true,
  findingsCount: true,
} as const satisfies Prisma.ScanArtifactSelect;

export type ArtifactSummaryRow = Prisma.ScanArtifactGetPayload<{ select: typeof artifactSummarySelect }>;

export interface ArtifactSummary {
  readonly id: string;
  readonly repository: string;
  readonly tags: string[];
  readonly repoDigest: string | null;
  readonly imageId: string | null;
  readonly tagBound: boolean;
  readonly scanner: { readonly name: string; readonly version: string };
  readonly scannedAt: Date;
  readonly receivedAt: Date;
  /** Distinct vulnerability ids by worst severity. */
  readonly vulnerabilities: VulnerabilityCounts;
  readonly findingsCount: number;
}

export function toArtifactSummary(row: ArtifactSummaryRow): ArtifactSummary {
  return {
    id: row.id,
    repository: row.repository,
    tags: row.tags,
    repoDigest: row.repoDigest,
    imageId: row.imageId,
    tagBound: row.tagBound,
    scanner: { name: row.scannerName, version: row.scannerVersion },
    scannedAt: row.scannedAt,
    receivedAt: row.receivedAt,
    vulnerabilities: {
      critical: row.criticalCount,
      high: row.highCount,
      medium: row.mediumCount,
      low: row.lowCount,
      unknown: row.unknownCount,
    },
    findingsCount: row.findingsCount,
  };
}

/** The document a stored envelope carries; the API signed it, so it is read without verifying. */
export function storedDocumentOf(envelope: Prisma.JsonValue | SignedEnvelope): ScanArtifactDocument {
  const { payload } = envelope as { payload: string };
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as ScanArtifactDocument;
}
