import type { ScanFinding } from '@portcullis/bundle';

export type ScanReportFormat = 'trivy' | 'grype' | 'cyclonedx';

/**
 * One image's vulnerabilities as a report states them, in the shape of the signed
 * ScanArtifactDocument (@portcullis/bundle) minus what the server adds: the tenant,
 * and a scan time when the report has none.
 */
export interface NormalizedScanReport {
  readonly format: ScanReportFormat;
  /** registry/path, normalised as the container runtime resolves it: `docker.io/library/alpine`. */
  readonly repository: string;
  /** Tags of `repository` the report names, in report order. */
  readonly tags: readonly string[];
  /** The manifest digest a pod spec names with `image@sha256:...`; absent when the report has none. */
  readonly repoDigest?: string;
  readonly imageId?: string;
  /** No repo digest: the image is known only by tag, which can move. */
  readonly tagBound: boolean;
  readonly scanner: { readonly name: string; readonly version: string };
  /** When the scan ran (ISO-8601, UTC); absent when the report does not say. */
  readonly scannedAt?: string;
  /** One entry per vulnerability and package, as the scanner lists them (not de-duplicated). */
  readonly findings: readonly ScanFinding[];
  /** What was read but not kept (tags of other repositories, unparseable references), for the uploader. */
  readonly warnings: readonly string[];
}

/**
 * Why a report is refused. UNKNOWN_FORMAT: not Trivy JSON, Grype JSON or CycloneDX;
 * MALFORMED: the format is recognised but a field is not what it must be;
 * NO_IMAGE_IDENTITY: neither a repo digest nor a tag names the image;
 * NOT_AN_IMAGE: a report of something else (a filesystem, a repository);
 * TOO_MANY_FINDINGS: more findings than a signed artifact may carry.
 */
export type ScanReportRejectionReason =
  'UNKNOWN_FORMAT' | 'MALFORMED' | 'NO_IMAGE_IDENTITY' | 'NOT_AN_IMAGE' | 'TOO_MANY_FINDINGS';

export interface ScanReportRejection {
  readonly ok: false;
  readonly reason: ScanReportRejectionReason;
  /** One line naming the field, e.g. `Results[0].Vulnerabilities[3].Severity: is not a string`. */
  readonly message: string;
  /** The offending field, when there is one. */
  readonly path?: string;
}

export type ScanReportResult = { readonly ok: true; readonly report: NormalizedScanReport } | ScanReportRejection;

/** The most findings a signed artifact carries (ScanArtifactDocumentSchema's bound). */
export const MAX_FINDINGS = 50_000;

/** Field bounds of a finding (ScanArtifactDocumentSchema's). */
export const FINDING_LIMITS = { id: 128, packageName: 512, version: 256 } as const;
