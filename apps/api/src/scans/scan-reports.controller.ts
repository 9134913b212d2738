import { Controller, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { badInput } from '@portcullis/platform';
import { Public } from '../auth';
import { ScanReportIngestor, type ScanReportReceipt } from './scan-report-ingestor';
import { CurrentUploader, ScanUploadGuard, type ScanUploader } from './scan-upload.guard';

/** The path whose body is read raw (any content type, gzip inflated, its own size limit): see bootstrap. */
export const SCAN_REPORTS_PATH = '/api/v1/scan-reports';

/**
 * POST /api/v1/scan-reports: a CI pipeline uploads a Trivy, Grype or CycloneDX JSON
 * report with its upload token. 201 with the new artifact, 200 when the same report was
 * already uploaded (nothing changes), 400 naming what is wrong, 413 when too large.
 */
@Controller('api/v1')
export class ScanReportsController {
  constructor(private readonly ingestor: ScanReportIngestor) {}

  @Public()
  @UseGuards(ScanUploadGuard)
  @Post('scan-reports')
  async upload(
    @CurrentUploader() uploader: ScanUploader,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ScanReportReceipt> {
    const body: unknown = req.body;
    if (!Buffer.isBuffer(body))
      throw badInput(
        '(body)',
        'the request has no body: send the report as JSON (Content-Type: application/json, optionally Content-Encoding: gzip)',
      );
    const receipt = await this.ingestor.ingest(uploader, body);
    res.status(receipt.created ? 201 : 200);
    return receipt;
  }
}
