import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { AppConfig } from '@portcullis/config';
import type { PrismaClient } from '@portcullis/db';
import { APP_CONFIG, LOGGER, PRISMA, REDIS, type Logger } from '@portcullis/platform';
import { bundleChannel } from '@portcullis/distribution';
import type { Redis } from 'ioredis';

/** A stored bundle as the agent endpoint serves it: the envelope's JSON text, never re-serialised. */
export interface StoredBundle {
  readonly revision: number;
  readonly body: string;
}

/**
 * What a woken long poll gets: the bundle read for it (usually), or only the announced
 * revision when that read failed and the poll must read on its own.
 */
export type Announcement = StoredBundle | { readonly revision: number; readonly body?: undefined };

type Release = (announcement: Announcement | null) => void;

/**
 * Wakes long-polling agents across API replicas. Every replica subscribes once to the
 * channel; a message names the clusters that got a new revision. The replica reads the
 * newest bundles of all of them that have a poll parked here in ONE query and hands each
 * poll its bundle, so a change reaching a thousand agents costs a few reads, not a
 * thousand. Waiters are in memory: a poll that misses a message still ends at its own
 * timeout and re-reads the database.
 */
@Injectable()
export class BundleNotifications implements OnModuleInit, OnModuleDestroy {
  private readonly waiters = new Map<string, Set<Release>>();
  private subscriber: Redis | undefined;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    this.subscriber = this.redis.duplicate();
    this.subscriber.on('message', (_channel: string, message: string) => void this.deliver(message));
    this.subscriber.on('error', (err: Error) => this.logger.warn({ err }, 'bundle notification subscriber error'));
    await this.subscriber.subscribe(bundleChannel(this.config.redisPrefix));
  }

  async onModuleDestroy(): Promise<void> {
    for (const set of this.waiters.values()) for (const release of set) release(null);
    this.waiters.clear();
    await this.subscriber?.quit().catch(() => undefined);
  }

  /** Resolves with the announced bundle, or null when `timeoutMs` passes (or `signal` aborts) first. */
  waitForRevision(clusterId: string, timeoutMs: number, signal?: AbortSignal): Promise<Announcement | null> {
    return new Promise((resolve) => {
      let set = this.waiters.get(clusterId);
      if (!set) this.waiters.set(clusterId, (set = new Set()));
      const release: Release = (announcement) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        set!.delete(release);
        if (set!.size === 0 && this.waiters.get(clusterId) === set) this.waiters.delete(clusterId);
        resolve(announcement);
      };
      const onAbort = () => release(null);
      const timer = setTimeout(onAbort, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(release);
    });
  }

  /** Polls parked on this replica. */
  get waiting(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }

  /** The newest bundle of each cluster, as JSON text, in one indexed read. */
  async latest(clusterIds: readonly string[]): Promise<Map<string, StoredBundle>> {
    const rows = await this.prisma.$queryRaw<Array<{ cluster_id: string; revision: number; body: string }>>`
      SELECT DISTINCT ON (cluster_id) cluster_id, revision, envelope::text AS body
      FROM bundles WHERE cluster_id = ANY(${clusterIds}::uuid[])
      ORDER BY cluster_id, revision DESC`;
    return new Map(rows.map((r) => [r.cluster_id, { revision: r.revision, body: r.body }]));
  }

  private async deliver(message: string): Promise<void> {
    const announced = parseMessage(message);
    if (!announced) {
      this.logger.warn('ignored a malformed bundle notification');
      return;
    }
    const parked = announced.filter(([clusterId]) => this.waiters.has(clusterId));
    if (parked.length === 0) return;
    let bundles: Map<string, StoredBundle> | undefined;
    try {
      bundles = await this.latest(parked.map(([clusterId]) => clusterId));
    } catch (err) {
      this.logger.warn({ err }, 'could not read announced bundles; woken polls read their own');
    }
    for (const [clusterId, revision] of parked) {
      const set = this.waiters.get(clusterId);
      if (!set) continue;
      const bundle = bundles?.get(clusterId);
      // a newer revision read than announced is fine; an older one means a lagging read: let the poll re-read
      const announcement: Announcement = bundle && bundle.revision >= revision ? bundle : { revision };
      for (const release of [...set]) release(announcement);
    }
  }
}

function parseMessage(message: string): Array<[string, number]> | null {
  let parsed: { c?: unknown };
  try {
    parsed = JSON.parse(message) as { c?: unknown };
  } catch {
    return null;
  }
  if (!Array.isArray(parsed.c)) return null;
  const out: Array<[string, number]> = [];
  for (const entry of parsed.c) {
    if (Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'number') out.push([entry[0], entry[1]]);
  }
  return out;
}
