import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Queue, Worker, type Job } from 'bullmq';
import type { AppConfig } from '@portcullis/config';
import type { PrismaClient } from '@portcullis/db';
import { APP_CONFIG, CLOCK, LOGGER, PRISMA, REDIS, type Clock, type Logger } from '@portcullis/platform';
import type { Redis } from 'ioredis';
import { ScanArtifactRetention } from '../scans/scan-artifact-retention';
import { InventoryStore } from '@portcullis/inventory';
import { InventoryMaintenance, type MaintenanceResult } from './inventory-maintenance';

export const INVENTORY_QUEUE = 'inventory';
export const PARTITION_MAINTENANCE = 'partition-maintenance';
/** Hourly: partitions exist a week ahead, so a missed run or two changes nothing. */
export const PARTITION_MAINTENANCE_EVERY_MS = 3_600_000;
/**
 * The API folds staged rollup contributions within a second of each batch; this
 * flush covers an API process that stopped in between (it folds what any process staged),
 * so the rollups lag acknowledged events by a second or two even then.
 */
export const ROLLUP_FOLD_EVERY_MS = 1_000;

/**
 * The inventory queue: one repeatable job keeps daily partitions ahead and applies
 * retention (the admission inventory, and scan artifacts no lookup can return any more).
 * BullMQ's job scheduler makes it run once per interval across any number of workers; the
 * work itself is idempotent.
 */
@Injectable()
export class InventoryProcessor implements OnModuleInit, OnModuleDestroy {
  private worker: Worker | undefined;
  private queue: Queue | undefined;
  private connection: Redis | undefined;
  private readonly maintenance: InventoryMaintenance;
  private readonly artifactRetention: ScanArtifactRetention;
  private folding: NodeJS.Timeout | undefined;
  private foldInFlight: Promise<void> | undefined;
  private foldFailures = 0;

  constructor(
    @Inject(PRISMA) prisma: PrismaClient,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly store: InventoryStore,
  ) {
    this.maintenance = new InventoryMaintenance(prisma, store);
    this.artifactRetention = new ScanArtifactRetention(prisma);
  }

  async onModuleInit(): Promise<void> {
    const connection = (this.connection = this.redis.duplicate({ maxRetriesPerRequest: null }));
    this.queue = new Queue(INVENTORY_QUEUE, { connection: this.redis, prefix: this.config.redisPrefix });
    await this.queue.upsertJobScheduler(
      PARTITION_MAINTENANCE,
      { every: PARTITION_MAINTENANCE_EVERY_MS },
      { name: PARTITION_MAINTENANCE, data: {} },
    );
    // the scheduler keeps its hourly rhythm across restarts; a starting worker also runs one
    // pass at once, so a fresh install (or one down for days) has its partitions right away
    await this.queue.add(PARTITION_MAINTENANCE, {}, { removeOnComplete: true, removeOnFail: 100 });
    this.worker = new Worker(INVENTORY_QUEUE, (job) => this.process(job), {
      connection,
      prefix: this.config.redisPrefix,
      concurrency: 1,
      lockDuration: 300_000,
    });
    this.worker.on('failed', (job, err) =>
      this.logger.error({ err, jobId: job?.id, name: job?.name }, 'inventory job failed'),
    );
    this.scheduleFold();
  }

  /** Every ROLLUP_FOLD_EVERY_MS, one flush that does not wait: if another process is flushing, it folds what is staged. */
  private scheduleFold(): void {
    this.folding = setTimeout(() => {
      this.foldInFlight = this.store
        .foldStaged(false)
        .then(() => {
          this.foldFailures = 0;
        })
        .catch((err: unknown) => {
          // staged rows wait for the next flush; log once per outage, not every second
          if (this.foldFailures++ === 0)
            this.logger.error({ err }, 'folding staged rollups failed; retrying every second');
        })
        .finally(() => {
          this.foldInFlight = undefined;
          if (this.folding) this.scheduleFold();
        });
    }, ROLLUP_FOLD_EVERY_MS);
  }

  async onModuleDestroy(): Promise<void> {
    clearTimeout(this.folding);
    this.folding = undefined;
    await this.foldInFlight;
    await this.worker?.close();
    await this.queue?.close();
    await this.connection?.quit().catch(() => undefined);
  }

  async process(job: Job): Promise<MaintenanceResult & { scanArtifactsDeleted: number }> {
    if (job.name !== PARTITION_MAINTENANCE) throw new Error(`unknown inventory job "${job.name}"`);
    const now = this.clock.now();
    const result = {
      ...(await this.maintenance.run(now)),
      scanArtifactsDeleted: await this.artifactRetention.run(now),
    };
    this.logger.info({ ...result }, 'inventory maintenance done');
    return result;
  }
}
