import { AsyncLocalStorage } from 'node:async_hooks';

/** Per-request facts every log line carries. Never holds a token. */
export interface RequestContext {
  readonly requestId: string;
  tenantId?: string;
  principalId?: string;
  /** The GraphQL operation holds a root field priced as expensive (exports, simulations, reports). */
  expensive?: boolean;
  /** Waiting for something else to happen (a parked long poll): in flight, but not asking for the event loop. */
  parked?: boolean;
}

const storage = new AsyncLocalStorage<RequestContext>();

export const requestContext = {
  run<T>(ctx: RequestContext, fn: () => T): T {
    return storage.run(ctx, fn);
  },
  current(): RequestContext | undefined {
    return storage.getStore();
  },
  /** Names whom the current request acts for, once a guard proved it (user, agent or upload token). */
  identify(tenantId: string, principalId: string): void {
    const ctx = storage.getStore();
    if (!ctx) return;
    ctx.tenantId = tenantId;
    ctx.principalId = principalId;
  },
};
