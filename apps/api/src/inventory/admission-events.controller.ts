import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { Public } from '../auth';
import { AgentEndpoint, CurrentAgent, type AgentIdentity } from '../agent/agent-auth.guard';
import type { AdmissionEventBatchResult } from '@portcullis/contracts';
import { AdmissionEventIngestor } from './admission-event-ingestor';
import { readBatchBody } from './batch-body';

/**
 * POST /agent/v1/admission-events: one batch of the agent's spool (JSON, optionally
 * gzip). The cluster is the credential's; 200 means every event is stored (or was
 * already), 400/403/413 that nothing was.
 */
@Controller('agent/v1')
export class AdmissionEventsController {
  constructor(private readonly ingestor: AdmissionEventIngestor) {}

  @Public()
  @AgentEndpoint()
  @Post('admission-events')
  @HttpCode(200)
  async upload(@CurrentAgent() agent: AgentIdentity, @Req() req: Request): Promise<AdmissionEventBatchResult> {
    return this.ingestor.ingest(agent, await readBatchBody(req));
  }
}
