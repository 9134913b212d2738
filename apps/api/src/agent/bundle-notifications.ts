import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { AppConfig } from '@portcullis/config';
import type { PrismaClient } from '@portcullis/db';
import { APP_CONFIG, LOGGER, PRISMA, REDIS, type Logger } from '@portcullis/platform';
import { bundleChannel, credentialRevocationChannel } from '@portcullis/distribution';
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

/** What wakes a parked poll: a newer bundle, nothing (its wait ended or the client left), or its credential's revocation. */
export type Wake = Announcement | null | typeof REVOKED;
export const REVOKED = 'revoked' as const;

type Release = (wake: Wake) => void;
interface Waiter {
  readonly tokenId: string;
  readonly release: Release;
}

/**
 * How long a replica remembers a revoked token id: covers a poll whose credential check
 * passed just before the revocation and that parks just after its message arrived.
 * Bounded in count as well; credentials are revoked by administrators, rarely.
 */
const REVOKED_MEMORY_MS = 120_000;
const REVOKED_MEMORY_MAX = 10_000;

/**
 * Wakes long-polling agents across API replicas. Every replica subscribes once to the
 * channel; a message names the clusters that got a new revision. The replica reads the
 * newest bundles of all of them that have a poll parked here in ONE query and hands each
 * poll its bundle, so a change reaching a thousand agents costs a few reads, not a
 * thousand. Waiters are in memory: a poll that misses a message still ends at its own
 * timeout and re-reads the database. A second channel names agent credentials that were
 * rotated or deleted: the polls parked on them end at once (the controller answers 401).
 */
@Injectable()
export class BundleNotifications implements OnModuleInit, OnModuleDestroy {
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** token id -> when this replica may forget it was revoked; insertion order = expiry order. */
  private readonly revoked = new Map<string, number>();
  private subscriber: Redis | undefined;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    this.subscriber = this.redis.duplicate();
    const bundles = bundleChannel(this.config.redisPrefix);
    const revocations = credentialRevocationChannel(this.config.redisPrefix);
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === revocations) this.revoke(message);
      else if (channel === bundles) void this.deliver(message);
    });
    this.subscriber.on('error', (err: Error) => this.logger.warn({ err }, 'bundle notification subscriber error'));
    await this.subscriber.subscribe(bundles, revocations);
  }

  async onModuleDestroy(): Promise<void> {
    for (const set of this.waiters.values()) for (const waiter of set) waiter.release(null);
    this.waiters.clear();
    await this.subscriber?.quit().catch(() => undefined);
  }

  /**
   * Resolves with the announced bundle, REVOKED when the credential `tokenId` the poll came
   * with is rotated or its cluster deleted, or null when `timeoutMs` passes (or `signal` aborts) first.
   */
  waitForRevision(clusterId: string, tokenId: string, timeoutMs: number, signal?: AbortSignal): Promise<Wake> {
    if (this.wasRevoked(tokenId)) return Promise.resolve(REVOKED);
    return new Promise((resolve) => {
      let set = this.waiters.get(clusterId);
      if (!set) this.waiters.set(clusterId, (set = new Set()));
      const release: Release = (wake) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        set!.delete(waiter);
        if (set!.size === 0 && this.waiters.get(clusterId) === set) this.waiters.delete(clusterId);
        resolve(wake);
      };
      const waiter: Waiter = { tokenId, release };
      const onAbort = () => release(null);
      const timer = setTimeout(onAbort, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(waiter);
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
    const announced = parseMessage(message, 'c', 'number');
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
      for (const waiter of [...set]) waiter.release(announcement);
    }
  }

  private revoke(message: string): void {
    const revoked = parseMessage(message, 'r', 'string');
    if (!revoked) {
      this.logger.warn('ignored a malformed credential revocation');
      return;
    }
    const now = Date.now();
    for (const [tokenId, expires] of this.revoked) {
      if (expires > now && this.revoked.size < REVOKED_MEMORY_MAX) break;
      this.revoked.delete(tokenId);
    }
    for (const [clusterId, tokenId] of revoked) {
      this.revoked.set(tokenId, now + REVOKED_MEMORY_MS);
      const set = this.waiters.get(clusterId);
      if (!set) continue;
      for (const waiter of [...set]) if (waiter.tokenId === tokenId) waiter.release(REVOKED);
    }
  }

  private wasRevoked(tokenId: string): boolean {
    const expires = this.revoked.get(tokenId);
    return expires !== undefined && expires > Date.now();
  }
}

/** `{"<key>":[[clusterId, value], ...]}`; entries of another shape are dropped. */
function parseMessage(message: string, key: 'c', value: 'number'): Array<[string, number]> | null;
function parseMessage(message: string, key: 'r', value: 'string'): Array<[string, string]> | null;
function parseMessage(
  message: string,
  key: 'c' | 'r',
  value: 'number' | 'string',
): Array<[string, number | string]> | null {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(message) as Record<string, unknown>;
  } catch {
    return null;
  }
  const entries = parsed?.[key];
  if (!Array.isArray(entries)) return null;
  const out: Array<[string, number | string]> = [];
  for (const entry of entries) {
    if (Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === value)
      out.push([entry[0], entry[1] as number | string]);
  }
  return out;
}
