import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import type { WorkloadReportResult } from '@portcullis/contracts';
import { Public } from '../auth';
import { AgentEndpoint, CurrentAgent, type AgentIdentity } from '../agent/agent-auth.guard';
import { readBatchBody } from '../inventory/batch-body';
import { WorkloadReportIngestor } from './workload-report-ingestor';

/** The JSON parser of the app skips this route: it reads its own body (gzip, the admission batches' limits). */
export const WORKLOAD_REPORTS_PATH = '/agent/v1/workload-reports';

/**
 * POST /agent/v1/workload-reports: the background audit's report of what runs in the agent's
 * cluster (JSON, optionally gzip; contract in libs/contracts/src/workload-report.ts). The cluster
 * is the credential's. 200 means the report is applied (or staged, or was applied before);
 * 400/403/409/413 that nothing was written.
 */
@Controller('agent/v1')
export class WorkloadReportsController {
  constructor(private readonly ingestor: WorkloadReportIngestor) {}

  @Public()
  @AgentEndpoint()
  @Post('workload-reports')
  @HttpCode(200)
  async report(@CurrentAgent() agent: AgentIdentity, @Req() req: Request): Promise<WorkloadReportResult> {
    return this.ingestor.ingest(agent, await readBatchBody(req));
  }
}
