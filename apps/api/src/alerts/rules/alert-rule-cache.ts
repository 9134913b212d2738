import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { AppConfig } from '@portcullis/config';
import { withTenant, type PrismaClient } from '@portcullis/db';
import { EVENT_RULE_KINDS, alertRulesChannel, compileRules, type CompiledAlertRule } from '@portcullis/alert-rules';
import { APP_CONFIG, LOGGER, PRISMA, REDIS, type Logger } from '@portcullis/platform';
import type { Redis } from 'ioredis';

/** A missed change message costs at most this much staleness. */
const CACHE_MS = 60_000;
/** Tenants whose rules one process keeps; more only drops the oldest (a reload costs one query). */
const CACHE_TENANTS_MAX = 50_000;

interface Entry {
  readonly rules: readonly CompiledAlertRule[];
  readonly until: number;
}

/**
 * The enabled event rules (BLOCK_DENIAL, FIRST_WOULD_DENY) of each tenant, compiled, in memory:
 * ingest matches against them with no database round trip. A tenant is read once (one query)
 * and then every CACHE_MS at most; a change announced on the alert-rules channel drops it on
 * every replica at once. A load that a change overtook is not kept (generation check).
 */
@Injectable()
export class AlertRuleCache implements OnModuleInit, OnModuleDestroy {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<readonly CompiledAlertRule[]>>();
  private readonly generation = new Map<string, number>();
  private subscriber: Redis | undefined;

  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    const channel = alertRulesChannel(this.config.redisPrefix);
    this.subscriber = this.redis.duplicate();
    this.subscriber.on('message', (ch: string, tenantId: string) => {
      if (ch === channel) this.invalidate(tenantId);
    });
    this.subscriber.on('error', (err: Error) => this.logger.warn({ err }, 'alert rule change subscriber error'));
    await this.subscriber.subscribe(channel);
  }

  async onModuleDestroy(): Promise<void> {
    await this.subscriber?.quit().catch(() => undefined);
  }

  invalidate(tenantId: string): void {
    this.entries.delete(tenantId);
    this.loading.delete(tenantId);
    this.generation.set(tenantId, (this.generation.get(tenantId) ?? 0) + 1);
  }

  /** The tenant's event rules: from memory, or one query when absent or aged out. */
  rules(tenantId: string): readonly CompiledAlertRule[] | Promise<readonly CompiledAlertRule[]> {
    const entry = this.entries.get(tenantId);
    if (entry && entry.until > Date.now()) return entry.rules;
    let load = this.loading.get(tenantId);
    if (!load) {
      const generation = this.generation.get(tenantId) ?? 0;
      const pending: Promise<readonly CompiledAlertRule[]> = this.load(tenantId)
        .then((rules) => {
          if ((this.generation.get(tenantId) ?? 0) === generation) {
            if (this.entries.size >= CACHE_TENANTS_MAX) this.entries.delete(this.entries.keys().next().value!);
            this.entries.set(tenantId, { rules, until: Date.now() + CACHE_MS });
          }
          return rules;
        })
        .finally(() => {
          if (this.loading.get(tenantId) === pending) this.loading.delete(tenantId);
        });
      this.loading.set(tenantId, (load = pending));
    }
    return load;
  }

  private async load(tenantId: string): Promise<readonly CompiledAlertRule[]> {
    const rows = await withTenant(this.prisma, tenantId, (tx) =>
      tx.alertRule.findMany({
        where: { enabled: true, kind: { in: [...EVENT_RULE_KINDS] } },
        include: { destinations: { select: { destinationId: true } } },
      }),
    );
    return compileRules(rows.map((r) => ({ ...r, destinationIds: r.destinations.map((d) => d.destinationId) })));
  }
}
