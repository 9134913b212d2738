import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { AppConfig } from '@portcullis/config';
import type { PrismaClient, Prisma, TenantTx } from '@portcullis/db';
import { APP_CONFIG, LOGGER, PRISMA, REDIS, type Logger } from '@portcullis/platform';
import {
  distributionQueue,
  enqueueDomainEvent,
  type DistributionQueue,
  type DomainEventPayload,
  type DomainEventType,
  type OutboxEvent,
} from '@portcullis/distribution';
import type { Redis } from 'ioredis';

export type { DomainEventPayload, DomainEventType };

export type RecordedEvent = OutboxEvent;

/** Distribution job states /metrics counts. */
export const JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;

/**
 * Transactional outbox. `record` writes the event in the caller's transaction, so the
 * change and its event land together; `publish` (after commit) hands it to BullMQ through
 * `enqueueDomainEvent`, as the worker's relay does, with the event id as job id so a
 * re-publish never runs twice. An event whose publish failed stays unpublished in
 * PostgreSQL for the worker's relay.
 */
@Injectable()
export class DomainEvents implements OnModuleDestroy {
  private readonly queue: DistributionQueue;

  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(REDIS) redis: Redis,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.queue = distributionQueue(redis, config.redisPrefix);
  }

  async record(
    tx: TenantTx,
    tenantId: string,
    type: DomainEventType,
    payload: DomainEventPayload,
  ): Promise<RecordedEvent> {
    const row = await tx.domainEvent.create({ data: { tenantId, type, payload: payload as Prisma.InputJsonValue } });
    return { id: row.id, tenantId, type, payload };
  }

  async publish(events: readonly RecordedEvent[]): Promise<void> {
    for (const e of events) {
      try {
        await enqueueDomainEvent(this.queue, e);
        await this.prisma.domainEvent.update({ where: { id: e.id }, data: { publishedAt: new Date() } });
      } catch (err) {
        this.logger.warn(
          { err, eventId: e.id.toString(), type: e.type },
          'domain event not published yet; the worker relay will pick it up',
        );
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
