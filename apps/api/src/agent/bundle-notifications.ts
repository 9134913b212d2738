import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { AppConfig } from '@portcullis/config';
import { APP_CONFIG, LOGGER, REDIS, type Logger } from '@portcullis/platform';
import { bundleChannel } from '@portcullis/distribution';
import type { Redis } from 'ioredis';


/**
 * Wakes long-polling agents across API replicas. Every replica subscribes once to the
 * channel; a message names the clusters that got a new revision, and each waiter of
 * those clusters on this replica is released at once. Waiters are in memory: a poll
 * that misses a message still ends at its own timeout and re-reads the database.
 */
@Injectable()
export class BundleNotifications implements OnModuleInit, OnModuleDestroy {
  private readonly waiters = new Map<string, Set<(revision: number) => void>>();
  private subscriber: Redis | undefined;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    this.subscriber = this.redis.duplicate();
    this.subscriber.on('message', (_channel: string, message: string) => this.deliver(message));
    this.subscriber.on('error', (err: Error) => this.logger.warn({ err }, 'bundle notification subscriber error'));
    await this.subscriber.subscribe(bundleChannel(this.config.redisPrefix));
  }

  async onModuleDestroy(): Promise<void> {
    for (const set of this.waiters.values()) for (const release of set) release(-1);
    this.waiters.clear();
    await this.subscriber?.quit().catch(() => undefined);
  }

  /** Resolves with the announced revision, or null when `timeoutMs` passes first. */
  waitForRevision(clusterId: string, timeoutMs: number, signal?: AbortSignal): Promise<number | null> {
    return new Promise((resolve) => {
      let set = this.waiters.get(clusterId);
      if (!set) this.waiters.set(clusterId, (set = new Set()));
      const done = (revision: number | null) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        set!.delete(release);
        if (set!.size === 0) this.waiters.delete(clusterId);
        resolve(revision);
      };
      const release = (revision: number) => done(revision < 0 ? null : revision);
      const onAbort = () => done(null);
      const timer = setTimeout(() => done(null), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(release);
    });
  }

  get waiting(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }

  private deliver(message: string): void {
    let parsed: { c?: unknown };
    try {
      parsed = JSON.parse(message) as { c?: unknown };
    } catch {
      this.logger.warn('ignored a malformed bundle notification');
      return;
    }
    if (!Array.isArray(parsed.c)) return;
    for (const entry of parsed.c) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') continue;
      const set = this.waiters.get(entry[0]);
      if (set) for (const release of [...set]) release(entry[1]);
    }
  }
}
