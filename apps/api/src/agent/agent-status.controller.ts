import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { Public } from '../auth';
import { AgentClusterState } from './agent-cluster-state';
import { AgentEndpoint, CurrentAgent, type AgentIdentity } from './agent-auth.guard';

/** POST /agent/v1/status: what the agent runs and enforces, for bundleRollout and operators. */
@Controller('agent/v1')
export class AgentStatusController {
  constructor(private readonly clusters: AgentClusterState) {}

  @Public()
  @AgentEndpoint()
  @Post('status')
  @HttpCode(204)
  async status(@CurrentAgent() agent: AgentIdentity, @Body() body: unknown): Promise<void> {
    await this.clusters.recordStatus(agent, body);
  }
}
