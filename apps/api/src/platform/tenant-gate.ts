import { AsyncLocalStorage } from 'node:async_hooks';
import { Inject, Injectable } from '@nestjs/common';
import { DB_RESERVED_CONNECTIONS, type AppConfig } from '@portcullis/config';
import { APP_CONFIG, RateLimitedError, requestContext } from '@portcullis/platform';

export interface TenantGateLimits {
  /** Transactions of all tenants at once: the pool's size less the connections kept outside the gate. */
  readonly slots: number;
  /** Transactions of one tenant at once; below `slots`, so other tenants always find a connection. */
  readonly perTenant: number;
  /** Transactions of one tenant at once for operations holding an expensive field (exports, simulations, reports); at most perTenant. */
  readonly perTenantExpensive: number;
  /** Transactions of one request at once (a GraphQL operation's root fields run in parallel). */
  readonly perRequest: number;
  /** Transactions of one tenant waiting for a slot; one more is refused at once. */
  readonly maxQueuedPerTenant: number;
  /** How long a waiting transaction waits before it is refused. */
  readonly maxWaitMs: number;
}

interface Waiter {
  readonly tenantId: string;
  readonly requestId: string | undefined;
  readonly expensive: boolean;
  readonly grant: () => void;
  timer?: NodeJS.Timeout;
}

interface TenantState {
  active: number;
  activeExpensive: number;
  readonly queue: Waiter[];
}

/** Set while a gated transaction runs: work nested in it (a second query of the same resolver) is not gated twice. */
const holding = new AsyncLocalStorage<true>();

/**
 * A fair admission gate in front of one connection pool. Every tenant-bound transaction
 * passes it; a tenant (and a request) holds at most its share of the pool, the rest wait in
 * that tenant's own bounded queue, and freed slots go to the waiting tenants in turn, not in
 * arrival order. So a tenant flooding expensive queries waits behind itself while another
 * tenant's request finds a free slot, and nothing queues without bound: a full queue or a wait
 * past `maxWaitMs` is refused with RATE_LIMITED (HTTP 429) before any work is done.
 */
export class TenantGate {
  private active = 0;
  /** Transactions admitted since start, and refused. */
  private admitted = 0;
  private refused = 0;
  private readonly tenants = new Map<string, TenantState>();
  private readonly requests = new Map<string, number>();
  /** Tenants with waiters, in the order they are served next. */
  private readonly turn: string[] = [];

  constructor(
    name: string,
    private readonly limits: TenantGateLimits,
  ) {
    if (limits.perTenantExpensive > limits.perTenant)
      throw new Error(
        `${name}: a tenant's share for expensive operations (${limits.perTenantExpensive}) must be at most its share (${limits.perTenant})`,
      );
    if (limits.perTenant >= limits.slots)
      throw new Error(`${name}: a tenant's share (${limits.perTenant}) must be below the gate's ${limits.slots} slots`);
  }

  /** Runs `work` once the tenant (and the current request) may start another transaction. */
  async run<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    if (holding.getStore()) return work();
    const ctx = requestContext.current();
    const requestId = ctx?.requestId;
    const expensive = ctx?.expensive === true;
    await this.acquire(tenantId, requestId, expensive);
    try {
      return await holding.run(true, work);
    } finally {
      this.release(tenantId, requestId, expensive);
    }
  }

  /** What the gate holds now (metrics and tests). */
  snapshot(): {
    active: number;
    queued: number;
    admitted: number;
    refused: number;
    tenants: Record<string, { active: number; queued: number }>;
  } {
    const tenants: Record<string, { active: number; queued: number }> = {};
    let queued = 0;
    for (const [id, t] of this.tenants) {
      tenants[id] = { active: t.active, queued: t.queue.length };
      queued += t.queue.length;
    }
    return { active: this.active, queued, admitted: this.admitted, refused: this.refused, tenants };
  }

  private tenant(tenantId: string): TenantState {
    let t = this.tenants.get(tenantId);
    if (!t) {
      t = { active: 0, activeExpensive: 0, queue: [] };
      this.tenants.set(tenantId, t);
    }
    return t;
  }

  private mayStart(t: TenantState, requestId: string | undefined, expensive: boolean): boolean {
    return (
      this.active < this.limits.slots &&
      t.active < this.limits.perTenant &&
      (!expensive || t.activeExpensive < this.limits.perTenantExpensive) &&
      (requestId === undefined || (this.requests.get(requestId) ?? 0) < this.limits.perRequest)
    );
  }

  private start(t: TenantState, requestId: string | undefined, expensive: boolean): void {
    this.admitted++;
    this.active++;
    t.active++;
    if (expensive) t.activeExpensive++;
    if (requestId !== undefined) this.requests.set(requestId, (this.requests.get(requestId) ?? 0) + 1);
  }

  private acquire(tenantId: string, requestId: string | undefined, expensive: boolean): Promise<void> {
    const t = this.tenant(tenantId);
    if (t.queue.length === 0 && this.mayStart(t, requestId, expensive)) {
      this.start(t, requestId, expensive);
      return Promise.resolve();
    }
    if (t.queue.length >= this.limits.maxQueuedPerTenant) {
      this.refused++;
      this.forget(tenantId, t);
      return Promise.reject(
        new RateLimitedError(
          `the tenant has ${t.active} database operations running and ${t.queue.length} waiting, the most it may (${this.limits.perTenant} running, ${this.limits.maxQueuedPerTenant} waiting); retry later`,
          { limit: 'tenantQueue', running: t.active, waiting: t.queue.length },
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { tenantId, requestId, expensive, grant: resolve };
      waiter.timer = setTimeout(() => {
        const i = t.queue.indexOf(waiter);
        if (i < 0) return;
        t.queue.splice(i, 1);
        if (t.queue.length === 0) this.leaveTurn(tenantId);
        this.refused++;
        this.forget(tenantId, t);
        reject(
          new RateLimitedError(
            `waited ${this.limits.maxWaitMs} ms for a database connection (a tenant may run ${this.limits.perTenant} operations at once, one request ${this.limits.perRequest}); retry later`,
            { limit: 'queueWaitMs' },
          ),
        );
      }, this.limits.maxWaitMs);
      if (t.queue.length === 0) this.turn.push(tenantId);
      t.queue.push(waiter);
      // the waiters ahead may be held by their own request's cap while this one may start
      this.dispatch();
    });
  }

  private release(tenantId: string, requestId: string | undefined, expensive: boolean): void {
    const t = this.tenant(tenantId);
    this.active--;
    t.active--;
    if (expensive) t.activeExpensive--;
    if (requestId !== undefined) {
      const n = (this.requests.get(requestId) ?? 1) - 1;
      if (n === 0) this.requests.delete(requestId);
      else this.requests.set(requestId, n);
    }
    this.dispatch();
    this.forget(tenantId, t);
  }

  /** Hands free slots to waiting tenants in turn: each tenant's first waiter that may start. */
  private dispatch(): void {
    let passes = this.turn.length;
    while (this.active < this.limits.slots && passes > 0) {
      const tenantId = this.turn.shift()!;
      const t = this.tenant(tenantId);
      const i = t.queue.findIndex((w) => this.mayStart(t, w.requestId, w.expensive));
      if (i < 0) {
        this.turn.push(tenantId);
        passes--;
        continue;
      }
      const [waiter] = t.queue.splice(i, 1);
      clearTimeout(waiter!.timer);
      this.start(t, waiter!.requestId, waiter!.expensive);
      if (t.queue.length > 0) this.turn.push(tenantId);
      passes = this.turn.length;
      waiter!.grant();
    }
  }

  private leaveTurn(tenantId: string): void {
    const i = this.turn.indexOf(tenantId);
    if (i >= 0) this.turn.splice(i, 1);
  }

  private forget(tenantId: string, t: TenantState): void {
    if (t.active === 0 && t.queue.length === 0) this.tenants.delete(tenantId);
  }
}

/** The API's two gates, one per pool (Prisma's for TenantDb, the plain pg pool's for SqlPool.inTenant), sized from the config. */
@Injectable()
export class DbGates {
  readonly prisma: TenantGate;
  readonly sql: TenantGate;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const d = config.database;
    const limits = (poolSize: number): TenantGateLimits => ({
      slots: poolSize - DB_RESERVED_CONNECTIONS,
      perTenant: d.tenantConcurrency,
      perTenantExpensive: Math.min(d.tenantExpensiveConcurrency, d.tenantConcurrency),
      perRequest: d.requestConcurrency,
      maxQueuedPerTenant: d.tenantQueue,
      maxWaitMs: d.queueWaitMs,
    });
    this.prisma = new TenantGate('prisma pool', limits(d.poolSize));
    this.sql = new TenantGate('sql pool', limits(d.sqlPoolSize));
  }
}
