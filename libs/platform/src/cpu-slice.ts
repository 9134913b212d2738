import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { requestContext, type RequestContext } from './request-context';

/**
 * How long one request's CPU-bound loop may keep the event loop before it lets others run.
 * Every request of every tenant shares the API's one event loop: a loop that renders 100
 * policies or evaluates thousands of workloads in one synchronous stretch makes every other
 * request wait for all of it. Sliced, another request waits at most about one slice per turn.
 */
export const CPU_SLICE_MS = 5;

/**
 * How long an expensive operation's loop (see RequestContext.expensive) stands aside, per
 * slice, while other requests are in flight: yielding one turn is not enough when the loop is
 * saturated, since a cheap request needs many turns (parse, auth, each query) and would wait a
 * slice at each. Bounded, so a steady stream of cheap requests slows an export down (to at
 * least CPU_SLICE_MS / (CPU_SLICE_MS + EXPENSIVE_DEFER_MS) of the loop) but never stops it.
 */
export const EXPENSIVE_DEFER_MS = 20;

/** Requests being answered now (HTTP middleware registers them); an expensive loop defers to the others. */
const inFlight = new Set<RequestContext>();

/** Registers a request as in flight until the returned function is called (any number of times). */
export function trackInFlight(ctx: RequestContext): () => void {
  inFlight.add(ctx);
  return () => void inFlight.delete(ctx);
}

/**
 * Requests in flight that an expensive one stands aside for: every one not itself expensive, of
 * any tenant, except parked ones (an agent's long poll waits up to a minute and needs no CPU
 * meanwhile: counting it would slow every export whenever any agent is connected).
 */
function othersInFlight(self: RequestContext): boolean {
  for (const ctx of inFlight) if (ctx !== self && ctx.expensive !== true && ctx.parked !== true) return true;
  return false;
}

/**
 * A checkpoint for a long CPU-bound loop: call it (and await it) between items; it yields
 * to the event loop (one `setImmediate` turn, so pending I/O and other requests run) once
 * `sliceMs` of work has passed since the last yield, and costs a clock read otherwise.
 * `clock` is for tests, which count yields instead of timing them.
 */
export function yieldEvery(
  sliceMs: number = CPU_SLICE_MS,
  clock: () => number = () => performance.now(),
): () => Promise<void> {
  let since = clock();
  return async () => {
    if (clock() - since < sliceMs) return;
    await nextTurn();
    const self = requestContext.current();
    if (self?.expensive === true) {
      // an expensive operation's loop stands aside while cheaper requests are answered, up to a bound
      for (let waited = 0; waited < EXPENSIVE_DEFER_MS && othersInFlight(self); waited++) await sleep(1);
    }
    since = clock();
  };
}

/** `items.map(fn)` that yields to the event loop every `sliceMs` of work (see yieldEvery). */
export async function mapSliced<T, R>(
  items: readonly T[],
  fn: (item: T, index: number) => R,
  sliceMs: number = CPU_SLICE_MS,
  clock?: () => number,
): Promise<R[]> {
  const checkpoint = yieldEvery(sliceMs, clock);
  const out: R[] = [];
  for (let i = 0; i < items.length; i++) {
    await checkpoint();
    out.push(fn(items[i]!, i));
  }
  return out;
}
