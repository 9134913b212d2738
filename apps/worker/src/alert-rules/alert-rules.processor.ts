import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import type { AppConfig } from '@portcullis/config';
import { SqlPool } from '@portcullis/db';
import { alertsQueue, enqueueDeliveries, persistAlert, type AlertsQueue, type Alert } from '@portcullis/alerts';
import {
  ALERT_RULES_QUEUE,
  DIGEST_FLUSH_JOB,
  DigestWindows,
  EVALUATE_BATCH_JOB,
  PERIODIC_CHECKS_JOB,
  alertRulesChannel,
  alertRulesQueue,
  readAlertRuleJob,
  type AlertRulesQueue,
  type DigestFlushJob,
  type Folded,
} from '@portcullis/alert-rules';
import { InventoryStore } from '@portcullis/inventory';
import { APP_CONFIG, CLOCK, LOGGER, REDIS, type Clock, type Logger } from '@portcullis/platform';
import type { Redis } from 'ioredis';
import type { PoolClient } from 'pg';
import { digestAlert, stableAlertId } from './alert-text';
import { BatchEvaluation, type AlertOutbox } from './batch-evaluation';
import { PeriodicChecks, type PeriodicResult } from './periodic-checks';
import { EvaluationCache, enabledRules } from './rule-store';

/** How often the periodic checks run (AGENT_SILENT, BUNDLE_BEHIND, EVENTS_DROPPED, POLICY_READY, CONFIG_CHANGE). */
export const PERIODIC_CHECKS_EVERY_MS = 30_000;

/** The worker's own pg pool for alert rules: evaluation jobs, digests and the periodic pass. */
@Injectable()
export class AlertRulesSqlPool extends SqlPool implements OnModuleDestroy {
  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    super({ databaseUrl: config.databaseUrl, max: 8 });
  }

  async onModuleDestroy(): Promise<void> {
    await this.end();
  }
}

/**
 * The `alert-rules` queue: evaluation of matched batches (from the API's ingest), digest
 * flushes at each window's end, and the periodic checks (a job scheduler: once per interval
 * across any number of workers). Every alert is stored with its delivery rows in the transaction
 * that claimed it, and its `alerts` delivery jobs are added after the commit (persistAlert, then
 * enqueueDeliveries).
 */
@Injectable()
export class AlertRulesProcessor implements OnModuleInit, OnModuleDestroy {
  private worker: Worker | undefined;
  private queue: AlertRulesQueue | undefined;
  private alerts: AlertsQueue | undefined;
  private connection: Redis | undefined;
  private readonly digests: DigestWindows;
  private readonly cache = new EvaluationCache();
  private subscriber: Redis | undefined;

  constructor(
    private readonly pool: AlertRulesSqlPool,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly inventory: InventoryStore,
  ) {
    this.digests = new DigestWindows(redis, config.redisPrefix);
  }

  async onModuleInit(): Promise<void> {
    this.queue = alertRulesQueue(this.redis, this.config.redisPrefix);
    this.alerts = alertsQueue(this.redis, this.config.redisPrefix);
    await this.queue.upsertJobScheduler(
      PERIODIC_CHECKS_JOB,
      { every: PERIODIC_CHECKS_EVERY_MS },
      { name: PERIODIC_CHECKS_JOB, data: {}, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
    // a rule change drops the tenant's cached rules here too
    const channel = alertRulesChannel(this.config.redisPrefix);
    this.subscriber = this.redis.duplicate();
    this.subscriber.on('message', (ch: string, tenantId: string) => {
      if (ch === channel) this.cache.invalidate(tenantId);
    });
    this.subscriber.on('error', (err: Error) => this.logger.warn({ err }, 'alert rule change subscriber error'));
    await this.subscriber.subscribe(channel);
    const connection = (this.connection = this.redis.duplicate({ maxRetriesPerRequest: null }));
    this.worker = new Worker(ALERT_RULES_QUEUE, (job) => this.process(job), {
      connection,
      prefix: this.config.redisPrefix,
      concurrency: 16,
    });
    this.worker.on('failed', (job, err) =>
      this.logger.error({ err, jobId: job?.id, name: job?.name }, 'alert-rules job failed'),
    );
  }

  async onModuleDestroy(): Promise<void> {
    await this.worker?.close();
    await this.queue?.close();
    await this.alerts?.close();
    await this.connection?.quit().catch(() => undefined);
    await this.subscriber?.quit().catch(() => undefined);
  }

  /** An outbox per job: alerts persisted in its transactions, their delivery jobs added after each commit. */
  private outbox(): AlertOutbox {
    const pending: Array<{ alert: Alert; destinations: string[] }> = [];
    return {
      persist: async (client: PoolClient, alert: Alert, destinationIds: readonly string[]) => {
        const destinations = await persistAlert({ client }, alert, destinationIds);
        if (destinations.length > 0) pending.push({ alert, destinations });
      },
      flush: async () => {
        for (const p of pending.splice(0))
          await enqueueDeliveries(this.alerts!, this.config.alerts.delivery, p.alert, p.destinations);
      },
    };
  }

  private scheduleFlush = async (tenantId: string, ruleId: string, start: number, delayMs: number): Promise<void> => {
    await this.queue!.add(
      DIGEST_FLUSH_JOB,
      { tenantId, ruleId, start },
      {
        jobId: `digest-${ruleId}-${start}`,
        delay: Math.max(0, delayMs),
        attempts: 8,
        backoff: { type: 'exponential', delay: 500 },
        removeOnComplete: 1_000,
        removeOnFail: 5_000,
      },
    );
  };

  async process(job: Job): Promise<unknown> {
    const read = readAlertRuleJob(job.name, job.data);
    if (!read.ok) throw new Error(read.reason);
    const now = this.clock.now().getTime();
    switch (read.value.name) {
      case EVALUATE_BATCH_JOB:
        return new BatchEvaluation(
          this.pool,
          this.cache,
          this.redis,
          this.config.redisPrefix,
          this.digests,
          this.scheduleFlush,
          this.outbox(),
        ).run(read.value.data, String(job.id), now);
      case DIGEST_FLUSH_JOB:
        return this.flushDigest(job, read.value.data);
      case PERIODIC_CHECKS_JOB:
        return this.runPeriodicChecks();
    }
  }

  /** One pass of the periodic checks, at the worker's clock (the scheduler calls it; tests may too). */
  runPeriodicChecks(): Promise<PeriodicResult> {
    return new PeriodicChecks(
      this.pool,
      this.redis,
      this.config.redisPrefix,
      this.inventory,
      this.digests,
      this.outbox(),
      this.scheduleFlush,
    ).run(this.clock.now());
  }

  /**
   * The digest of one window. What the window folded is taken from Redis once and kept on the
   * job before dispatch, so a retried flush sends the same digest (same id) instead of nothing.
   */
  private async flushDigest(job: Job, data: DigestFlushJob & { folded?: Folded }): Promise<{ count: number }> {
    let folded = data.folded ?? null;
    if (!folded) {
      folded = await this.digests.flush(data.ruleId, data.start);
      if (!folded) return { count: 0 };
      await job.updateData({ ...data, folded });
    }
    const taken = folded;
    const outbox = this.outbox();
    const result = await this.pool.inTenant(data.tenantId, async (client) => {
      const rule = (await enabledRules(client, [data.ruleId])).get(data.ruleId);
      if (!rule) return { count: 0 }; // disabled or deleted meanwhile
      const end = data.start + rule.digestSeconds * 1000;
      const scope = rule.cloudScopeIds.length === 1 ? { cloudScopeId: rule.cloudScopeIds[0]! } : undefined;
      await outbox.persist(
        client,
        digestAlert(stableAlertId(`digest\u0000${rule.id}\u0000${data.start}`), rule, taken, data.start, end, scope),
        rule.destinationIds,
      );
      return { count: taken.count };
    });
    await outbox.flush();
    return result;
  }
}
