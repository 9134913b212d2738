import { Inject, Injectable } from '@nestjs/common';
import { validateAgentStatus, type AgentStatus } from '@portcullis/contracts';
import type { PrismaClient } from '@portcullis/db';
import { PRISMA, badInput } from '@portcullis/platform';
import { instantMs } from '../platform/instant';
import { TenantDb } from '../tenancy/tenant-db';
import { recordNativeStatus } from './native-status.store';

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

  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    private readonly db: TenantDb,
  ) {}

  /** Records that the cluster's agent called; never fails the call it is part of. */
  async markSeen(clusterId: string): Promise<void> {
    const now = Date.now();
    if ((this.lastSeen.get(clusterId) ?? 0) > now - SEEN_EVERY_MS) return;
    this.lastSeen.set(clusterId, now);
    await this.prisma.cluster
      .update({ where: { id: clusterId }, data: { lastSeenAt: new Date(now) } })
      .catch(() => undefined);
  }

  /**
   * Stores a status report (the body of POST /agent/v1/status), or refuses it naming the field.
   * One tenant-bound transaction: the cluster's row and its native state change together or not at all.
   */
  async recordStatus(agent: { readonly clusterId: string; readonly tenantId: string }, body: unknown): Promise<void> {
    const s = statusOf(body);
    // as PostgreSQL would read the text: new Date() took February 30 for March 2 and a leap second for an invalid date (a 500)
    const reportedAt = instantOf('reportedAt', s.reportedAt);
    const reconciledAt = s.native ? instantOf('native.reconciledAt', s.native.reconciledAt) : null;
    await this.db.run(agent, async (tx) => {
      // locked: two replicas' reports of one cluster are stored one after the other, never interleaved
      const [cluster] = await tx.$queryRaw<Array<{ bundle_revision: number | null; native_revision: number | null }>>`
        SELECT bundle_revision, native_revision FROM clusters WHERE id = ${agent.clusterId}::uuid FOR UPDATE`;
      const latest = cluster?.bundle_revision ?? 0;
      for (const [field, revision] of [
        ['appliedRevision', s.appliedRevision],
        ['native.revision', s.native?.revision ?? null],
      ] as const) {
        if (revision !== null && latest < revision)
          throw badInput(
            field,
            `${field} ${revision} was never issued to this cluster (latest is ${cluster?.bundle_revision ?? 'none'})`,
          );
      }
      const now = new Date();
      const native = await recordNativeStatus(
        tx,
        { id: agent.clusterId, tenantId: agent.tenantId, nativeRevision: cluster?.native_revision ?? null },
        s.native,
        reconciledAt === null ? null : new Date(reconciledAt),
        now,
      );
      await tx.cluster.update({
        where: { id: agent.clusterId },
        data: {
          agentVersion: s.agentVersion,
          appliedRevision: s.appliedRevision,
          lastError: s.lastError ?? null,
          agentSpoolDepth: s.spoolDepth,
          agentDroppedEvents: s.droppedEvents,
          agentReportedAt: new Date(reportedAt),
          lastSeenAt: now,
          ...native,
        },
      });
    });
  }
}

function instantOf(field: string, text: string): number {
  const ms = instantMs(text);
  if (ms === undefined) throw badInput(field, `${field}: ${text} names no instant (a day its month does not have?)`);
  return ms;
}

function statusOf(body: unknown): AgentStatus {
  const parsed = validateAgentStatus(body);
  if (!parsed.ok) {
    const e = parsed.errors[0]!;
    throw badInput(e.path, `${e.path}: ${e.message}`);
  }
  return parsed.value;
}
