import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { validateScanArtifactLookupRequest, type ScanArtifactLookupResponse } from '@portcullis/contracts';
import { badInput } from '@portcullis/platform';
import { AgentEndpoint, CurrentAgent, type AgentIdentity } from '../agent/agent-auth.guard';
import { Public } from '../auth';
import { ScanArtifactLookup } from './scan-artifact-lookup';

/** POST /agent/v1/scan-artifacts/lookup: signed artifacts of the agent's tenant for the images of an admission. */
@Controller('agent/v1')
export class ScanArtifactLookupController {
  constructor(private readonly lookup: ScanArtifactLookup) {}

  @Public()
  @AgentEndpoint()
  @Post('scan-artifacts/lookup')
  @HttpCode(200)
  async find(@CurrentAgent() agent: AgentIdentity, @Body() body: unknown): Promise<ScanArtifactLookupResponse> {
    const parsed = validateScanArtifactLookupRequest(body);
    if (!parsed.ok) {
      const e = parsed.errors[0]!;
      throw badInput(e.path, `${e.path}: ${e.message}`);
    }
    return this.lookup.lookup(agent.tenantId, parsed.value.images);
  }
}
