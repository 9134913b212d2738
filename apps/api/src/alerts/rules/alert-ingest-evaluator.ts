import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { AppConfig } from '@portcullis/config';
import type { AdmissionEvent } from '@portcullis/contracts';
import {
  EVALUATE_BATCH_JOB,
  EVALUATE_JOB_OPTIONS,
  alertRulesQueue,
  matchBatch,
  type AlertRulesQueue,
  type BatchSource,
} from '@portcullis/alert-rules';
import { APP_CONFIG, LOGGER, REDIS, RateLimitedError, type Logger } from '@portcullis/platform';
import type { Redis } from 'ioredis';
import { AlertRuleCache } from './alert-rule-cache';

/**
 * The ingest path's part of alerting, after the batch committed: the batch's events are
 * matched in memory against the tenant's cached rules and, when anything matched, ONE job
 * carries the compact candidates to the worker (digests, first-denial dedup, dispatch). No
 * database round trip per event or per batch (the rules come from AlertRuleCache); nothing at
 * all for a tenant without event rules.
 */
@Injectable()
export class AlertIngestEvaluator implements OnModuleDestroy {
  private readonly queue: AlertRulesQueue;

  constructor(
    private readonly cache: AlertRuleCache,
    @Inject(REDIS) redis: Redis,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.queue = alertRulesQueue(redis, config.redisPrefix);
  }

  /**
   * Matches the stored batch's events (`indexes` into `events`). If the job cannot be queued
   * the batch is stored but answered 429: the agent re-sends it, and the worker's per-event
   * dedup keeps a re-sent denial from alerting twice.
   */
  async afterBatch(source: BatchSource, events: readonly AdmissionEvent[], indexes: readonly number[]): Promise<void> {
    try {
      const cached = this.cache.rules(source.tenantId);
      const rules = Array.isArray(cached) ? cached : await cached;
      if (rules.length === 0) return;
      const candidates = matchBatch(rules, source, events, indexes);
      if (candidates.length === 0) return;
      await this.queue.add(
        EVALUATE_BATCH_JOB,
        {
          tenantId: source.tenantId,
          clusterId: source.clusterId,
          cloudScopeId: source.cloudScopeId,
          candidates,
        },
        EVALUATE_JOB_OPTIONS,
      );
    } catch (err) {
      this.logger.error({ err, tenantId: source.tenantId }, 'alert evaluation of a stored batch could not be queued');
      throw new RateLimitedError(
        'the batch is stored, but its alert evaluation could not be queued; re-send the batch later',
      );
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.queue.close();
  }
}
