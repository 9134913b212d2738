import { Inject, Injectable } from '@nestjs/common';
import type { TenantTx } from '@portcullis/db';
import { CLOCK, badInput, type Clock } from '@portcullis/platform';
import {
  parseScanReport,
  scanReportContentHash,
  toScanArtifactDocument,
  type ScanReportRejectionReason,
} from '@portcullis/scan-reports';
import { TenantDb } from '../tenancy/tenant-db';
import { ArtifactSigningKeys } from './artifact-signing-keys';
import type { ScanUploader } from './scan-upload.guard';
import { artifactColumns, artifactSummarySelect, toArtifactSummary } from './scan-artifact.mapper';
import type { VulnerabilityCounts } from './vulnerability-counts';

/** What POST /api/v1/scan-reports answers. */
export interface ScanReportReceipt {
  /** false: the same report was uploaded before, and nothing changed. */
  readonly created: boolean;
  readonly artifact: {
    readonly id: string;
    readonly repository: string;
    readonly tags: readonly string[];
    readonly repoDigest: string | null;
    readonly imageId: string | null;
    readonly tagBound: boolean;
    readonly scanner: { readonly name: string; readonly version: string };
    readonly scannedAt: string;
    readonly receivedAt: string;
    /** Distinct vulnerability ids by worst severity. */
    readonly vulnerabilities: VulnerabilityCounts;
    readonly findings: number;
  };
  readonly warnings: readonly string[];
}

const REASON_TEXT: Record<ScanReportRejectionReason, string> = {
  UNKNOWN_FORMAT: 'unknown report format',
  MALFORMED: 'malformed report',
  NO_IMAGE_IDENTITY: 'the report does not identify the image (no repo digest and no tag)',
  NOT_AN_IMAGE: 'not a container image report',
  TOO_MANY_FINDINGS: 'too many findings',
};

/** A clock a day fast is a broken clock; a scan from the future would never grow "too old". */
const MAX_FUTURE_MS = 86_400_000;

/**
 * Normalises an uploaded report, signs the artifact with the bundle keys and stores it,
 * in one transaction under the uploader's tenant. Idempotent by the content hash of the
 * normalised report: a repeat upload (or a concurrent twin) finds the stored artifact.
 */
@Injectable()
export class ScanReportIngestor {
  constructor(
    private readonly db: TenantDb,
    private readonly keys: ArtifactSigningKeys,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async ingest(uploader: ScanUploader, body: Buffer): Promise<ScanReportReceipt> {
    const parsed = parseScanReport(body);
    if (!parsed.ok)
      throw badInput(parsed.path ?? '(body)', `${REASON_TEXT[parsed.reason]} (${parsed.reason}): ${parsed.message}`);
    const report = parsed.report;
    const now = this.clock.now();
    if (report.scannedAt !== undefined && Date.parse(report.scannedAt) > now.getTime() + MAX_FUTURE_MS) {
      throw badInput(
        'scannedAt',
        `scannedAt: the report says it was scanned at ${report.scannedAt}, more than a day from now; check the scanner's clock`,
      );
    }
    const contentHash = scanReportContentHash(report);
    const tenant = { tenantId: uploader.tenantId };
    const { row, created } = await this.db.run(tenant, async (tx) => {
      const existing = await findByHash(tx, uploader.tenantId, contentHash);
      if (existing) return { row: existing, created: false };
      const document = toScanArtifactDocument(report, uploader.tenantId, now);
      const envelope = this.keys.sign(document);
      const inserted = await tx.scanArtifact.createMany({
        data: [
          {
            tenantId: uploader.tenantId,
            contentHash,
            ...artifactColumns(document),
            format: report.format,
            receivedAt: now,
            uploadTokenId: uploader.tokenId,
            envelope: { ...envelope },
            kid: envelope.kid,
          },
        ],
        // a concurrent upload of the same report won the insert: its row is the answer
        skipDuplicates: true,
      });
      return { row: (await findByHash(tx, uploader.tenantId, contentHash))!, created: inserted.count === 1 };
    });
    const { scannedAt, receivedAt, findingsCount, ...summary } = toArtifactSummary(row);
    return {
      created,
      artifact: {
        ...summary,
        scannedAt: scannedAt.toISOString(),
        receivedAt: receivedAt.toISOString(),
        findings: findingsCount,
      },
      warnings: report.warnings,
    };
  }
}

function findByHash(tx: TenantTx, tenantId: string, contentHash: string) {
  return tx.scanArtifact.findUnique({
    where: { tenantId_contentHash: { tenantId, contentHash } },
    select: artifactSummarySelect,
  });
}
