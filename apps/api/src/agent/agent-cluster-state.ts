import { Inject, Injectable } from '@nestjs/common';
import { validateAgentStatus, type AgentStatus } from '@portcullis/contracts';
import type { PrismaClient } from '@portcullis/db';
import { PRISMA, badInput } from '@portcullis/platform';
import { instantMs } from '../platform/instant';

/** last seen, at most every 10 s per cluster: a long-polling fleet must not become a write load. */
const SEEN_EVERY_MS = 10_000;

/**
 * What agents tell the API about their own cluster: that it was seen, and what it runs and
 * enforces (read by bundleRollout and operators). The cluster is always the one the agent
 * credential proved, never one named in the request.
 */
@Injectable()
export class AgentClusterState {
  private readonly lastSeen = new Map<string, number>();

  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  /** Records that the cluster's agent called; never fails the call it is part of. */
  async markSeen(clusterId: string): Promise<void> {
    const now = Date.now();
    if ((this.lastSeen.get(clusterId) ?? 0) > now - SEEN_EVERY_MS) return;
    this.lastSeen.set(clusterId, now);
    await this.prisma.cluster
      .update({ where: { id: clusterId }, data: { lastSeenAt: new Date(now) } })
      .catch(() => undefined);
  }

  /** Stores a status report (the body of POST /agent/v1/status), or refuses it naming the field. */
  async recordStatus(clusterId: string, body: unknown): Promise<void> {
    const s = statusOf(body);
    // as PostgreSQL would read the text: new Date() took February 30 for March 2 and a leap second for an invalid date (a 500)
    const reportedAt = instantMs(s.reportedAt);
    if (reportedAt === undefined)
      throw badInput('reportedAt', `reportedAt: ${s.reportedAt} names no instant (a day its month does not have?)`);
    const cluster = await this.prisma.cluster.findUnique({
      where: { id: clusterId },
      select: { bundleRevision: true },
    });
    if (s.appliedRevision !== null && (cluster?.bundleRevision ?? 0) < s.appliedRevision) {
      throw badInput(
        'appliedRevision',
        `appliedRevision ${s.appliedRevision} was never issued to this cluster (latest is ${cluster?.bundleRevision ?? 'none'})`,
      );
    }
    await this.prisma.cluster.update({
      where: { id: clusterId },
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

function statusOf(body: unknown): AgentStatus {
  const parsed = validateAgentStatus(body);
  if (!parsed.ok) {
    const e = parsed.errors[0]!;
    throw badInput(e.path, `${e.path}: ${e.message}`);
  }
  return parsed.value;
}
