import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { validateAgentStatus } from '@portcullis/contracts';
import type { PrismaClient } from '@portcullis/db';
import { PRISMA, badInput } from '@portcullis/platform';
import { instantMs } from '../platform/instant';
import { Public } from '../auth';
import { AgentEndpoint, CurrentAgent, type AgentIdentity } from './agent-auth.guard';

/** POST /agent/v1/status: what the agent runs and enforces, for bundleRollout and operators. */
@Controller('agent/v1')
export class AgentStatusController {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  @Public()
  @AgentEndpoint()
  @Post('status')
  @HttpCode(204)
  async status(@CurrentAgent() agent: AgentIdentity, @Body() body: unknown): Promise<void> {
    const parsed = validateAgentStatus(body);
    if (!parsed.ok) {
      const e = parsed.errors[0]!;
      throw badInput(e.path, `${e.path}: ${e.message}`);
    }
    const s = parsed.value;
    // as PostgreSQL would read the text: new Date() took February 30 for March 2 and a leap second for an invalid date (a 500)
    const reportedAt = instantMs(s.reportedAt);
    if (reportedAt === undefined) throw badInput('reportedAt', `reportedAt: ${s.reportedAt} names no instant (a day its month does not have?)`);
    const cluster = await this.prisma.cluster.findUnique({ where: { id: agent.clusterId }, select: { bundleRevision: true } });
    if (s.appliedRevision !== null && (cluster?.bundleRevision ?? 0) < s.appliedRevision) {
      throw badInput('appliedRevision', `appliedRevision ${s.appliedRevision} was never issued to this cluster (latest is ${cluster?.bundleRevision ?? 'none'})`);
    }
    await this.prisma.cluster.update({
      where: { id: agent.clusterId },
      data: {
        agentVersion: s.agentVersion,
        appliedRevision: s.appliedRevision,
        lastError: s.lastError ?? null,
        agentSpoolDepth: s.spoolDepth,
        agentDroppedEvents: s.droppedEvents,
        agentReportedAt: new Date(reportedAt),
        lastSeenAt: new Date(),
      },
    });
  }
}
