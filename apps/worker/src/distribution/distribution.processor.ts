import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { AppConfig } from '@portcullis/config';
import type { PrismaClient } from '@portcullis/db';
import {
  BundleCompiler,
  DISTRIBUTION_QUEUE,
  RECONCILE_JOB,
  RELAY_OUTBOX_JOB,
  distributionQueue,
  enqueueDomainEvent,
  isDomainEventType,
  readDistributionJob,
  readDomainEventPayload,
  type DistributionQueue,
  type RecompileJob,
} from '@portcullis/distribution';
import { APP_CONFIG, LOGGER, PRISMA, REDIS, type Logger } from '@portcullis/platform';
import type { Redis } from 'ioredis';
import { BUNDLE_COMPILER } from './tokens';

/**
 * Consumes the distribution queue: each domain event recompiles the bundles of the
 * clusters it can affect. Jobs are idempotent (content hashes decide what changes),
 * retried with backoff, and stalled jobs of a crashed worker are picked up again.
 * Two repeatable jobs repair what events missed: the outbox relay re-publishes
 * events whose publish failed, and the reconcile pass recompiles every tenant,
 * which also re-signs bundles before they expire.
 */
@Injectable()
export class DistributionProcessor implements OnModuleInit, OnModuleDestroy {
  private worker: Worker | undefined;
  private queue: DistributionQueue | undefined;
  private connection: Redis | undefined;

  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(BUNDLE_COMPILER) private readonly compiler: BundleCompiler,
  ) {}

  async onModuleInit(): Promise<void> {
    // BullMQ workers block on their connection: they get one of their own
    const connection = (this.connection = this.redis.duplicate({ maxRetriesPerRequest: null }));
    this.queue = distributionQueue(this.redis, this.config.redisPrefix);
    await this.queue.upsertJobScheduler(RELAY_OUTBOX_JOB, { every: 15_000 }, { name: RELAY_OUTBOX_JOB, data: {} });
    await this.queue.upsertJobScheduler(RECONCILE_JOB, { every: 300_000 }, { name: RECONCILE_JOB, data: {} });
    this.worker = new Worker(DISTRIBUTION_QUEUE, (job) => this.process(job), {
      connection,
      prefix: this.config.redisPrefix,
      concurrency: 4,
      // a crashed worker's job is taken over once its lock lapses (live workers renew it every half)
      lockDuration: this.config.worker.jobLockMs,
      stalledInterval: this.config.worker.jobLockMs,
    });
    this.worker.on('failed', (job, err) =>
      this.logger.error(
        { err, jobId: job?.id, name: job?.name, attempts: job?.attemptsMade },
        'distribution job failed',
      ),
    );
  }

  async onModuleDestroy(): Promise<void> {
    await this.worker?.close();
    await this.queue?.close();
    await this.connection?.quit().catch(() => undefined);
  }

  async process(job: Job): Promise<unknown> {
    const read = readDistributionJob(job.name, job.data);
    // another attempt would read the same: fail it now (the 'failed' listener logs it)
    if (!read.ok) throw new UnrecoverableError(read.reason);
    const { value } = read;
    switch (value.name) {
      case RELAY_OUTBOX_JOB:
        return this.relayOutbox();
      case RECONCILE_JOB:
        return this.reconcile();
      default:
        return this.recompile(value.data);
    }
  }

  private async recompile(event: RecompileJob): Promise<unknown> {
    const clusterIds = await this.affectedClusters(event);
    const result = await this.compiler.compileTenant(event.tenantId, clusterIds);
    this.logger.info({ tenantId: event.tenantId, eventId: event.eventId, ...result }, 'bundles compiled');
    return result;
  }

  /** undefined = every cluster of the tenant. */
  private async affectedClusters(event: RecompileJob): Promise<string[] | undefined> {
    if (event.clusterId) return [event.clusterId];
    const scopes = event.cloudScopeIds ?? [];
    const explicit = event.clusterIds ?? [];
    if (scopes.length === 0 && explicit.length === 0) return undefined;
    const inScopes = scopes.length
      ? await this.prisma.cluster.findMany({
          where: { tenantId: event.tenantId, cloudScopeId: { in: [...scopes] } },
          select: { id: true },
        })
      : [];
    return [...new Set([...inScopes.map((c) => c.id), ...explicit])];
  }

  private async relayOutbox(): Promise<number> {
    const stale = await this.prisma.domainEvent.findMany({
      where: { publishedAt: null, createdAt: { lt: new Date(Date.now() - 10_000) } },
      orderBy: { id: 'asc' },
      take: 500,
    });
    let relayed = 0;
    for (const e of stale) {
      const payload = readDomainEventPayload(e.payload);
      if (!isDomainEventType(e.type) || !payload.ok) {
        // left unpublished: an API newer than this worker may have written it, and a newer worker relays it
        this.logger.warn(
          {
            eventId: e.id.toString(),
            type: e.type.slice(0, 100),
            reason: payload.ok ? 'unknown type' : payload.reason,
          },
          'outbox event not relayed',
        );
        continue;
      }
      await enqueueDomainEvent(this.queue!, { id: e.id, tenantId: e.tenantId, type: e.type, payload: payload.value });
      await this.prisma.domainEvent.update({ where: { id: e.id }, data: { publishedAt: new Date() } });
      relayed++;
    }
    return relayed;
  }

  private async reconcile(): Promise<number> {
    const tenants = await this.prisma.tenant.findMany({ where: { status: 'ACTIVE' }, select: { id: true } });
    for (const t of tenants) await this.compiler.compileTenant(t.id);
    return tenants.length;
  }
}
