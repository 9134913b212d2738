import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Queue } from 'bullmq';
import type { AppConfig } from '@portcullis/config';
import type { PrismaClient, Prisma, TenantTx } from '@portcullis/db';
import { APP_CONFIG, LOGGER, PRISMA, REDIS, type Logger } from '@portcullis/platform';
import { DISTRIBUTION_QUEUE } from '@portcullis/distribution';
import type { Redis } from 'ioredis';


export type DomainEventType =
  | 'policy.created'
  | 'policy.updated'
  | 'policy.deleted'
  | 'policy.exemptions-changed'
  | 'cloud-scope.deleted'
  | 'cluster.registered'
  | 'cluster.deleted';

export interface DomainEventPayload {
  readonly policyId?: string;
  readonly clusterId?: string;
  readonly cloudScopeId?: string;
  /** Cloud scopes whose clusters may be affected; empty = the whole tenant. */
  readonly cloudScopeIds?: readonly string[];
  readonly clusterIds?: readonly string[];
}

export interface RecordedEvent {
  readonly id: bigint;
  readonly tenantId: string;
  readonly type: DomainEventType;
  readonly payload: DomainEventPayload;
}

/**
 * Transactional outbox. `record` writes the event in the caller's transaction, so the
 * change and its event land together; `publish` (after commit) hands it to BullMQ,
 * with the event id as job id so a re-publish never runs twice. An event whose
 * publish failed stays unpublished in PostgreSQL for the worker's relay.
 */
export const JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;

@Injectable()
export class DomainEvents implements OnModuleDestroy {
  private readonly queue: Queue;

  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(REDIS) redis: Redis,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.queue = new Queue(DISTRIBUTION_QUEUE, { connection: redis, prefix: config.redisPrefix });
  }

  async record(tx: TenantTx, tenantId: string, type: DomainEventType, payload: DomainEventPayload): Promise<RecordedEvent> {
    const row = await tx.domainEvent.create({ data: { tenantId, type, payload: payload as Prisma.InputJsonValue } });
    return { id: row.id, tenantId, type, payload };
  }

  async publish(events: readonly RecordedEvent[]): Promise<void> {
    for (const e of events) {
      try {
        await this.queue.add(e.type, { eventId: e.id.toString(), tenantId: e.tenantId, ...e.payload }, {
          jobId: `event-${e.id}`,
          attempts: 10,
          backoff: { type: 'exponential', delay: 500 },
          removeOnComplete: 10_000,
          removeOnFail: 10_000,
        });
        await this.prisma.domainEvent.update({ where: { id: e.id }, data: { publishedAt: new Date() } });
      } catch (err) {
        this.logger.warn({ err, eventId: e.id.toString(), type: e.type }, 'domain event not published yet; the worker relay will pick it up');
      }
    }
  }

  /** Distribution jobs by state, and events recorded but not yet on the queue: what /metrics shows. */
  async backlog(): Promise<{ jobs: Record<string, number>; unpublishedEvents: number }> {
    const [jobs, unpublishedEvents] = await Promise.all([
      this.queue.getJobCounts(...JOB_STATES),
      this.prisma.domainEvent.count({ where: { publishedAt: null } }),
    ]);
    return { jobs, unpublishedEvents };
  }

  async onModuleDestroy(): Promise<void> {
    await this.queue.close();
  }
}
