import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * How long one request's CPU-bound loop may keep the event loop before it lets others run.
 * Every request of every tenant shares the API's one event loop: a loop that renders 100
 * policies or evaluates thousands of workloads in one synchronous stretch makes every other
 * request wait for all of it. Sliced, another request waits at most about one slice per turn.
 */
export const CPU_SLICE_MS = 5;

/**
 * A checkpoint for a long CPU-bound loop: call it (and await it) between items; it yields
 * to the event loop (one `setImmediate` turn, so pending I/O and other requests run) once
 * `sliceMs` of work has passed since the last yield, and costs a clock read otherwise.
 * `clock` is for tests, which count yields instead of timing them.
 */
export function yieldEvery(sliceMs: number = CPU_SLICE_MS, clock: () => number = () => performance.now()): () => Promise<void> {
  let since = clock();
  return async () => {
    if (clock() - since < sliceMs) return;
    await nextTurn();
    since = clock();
  };
}

/** `items.map(fn)` that yields to the event loop every `sliceMs` of work (see yieldEvery). */
export async function mapSliced<T, R>(items: readonly T[], fn: (item: T, index: number) => R, sliceMs: number = CPU_SLICE_MS, clock?: () => number): Promise<R[]> {
  const checkpoint = yieldEvery(sliceMs, clock);
  const out: R[] = [];
  for (let i = 0; i < items.length; i++) {
    await checkpoint();
    out.push(fn(items[i]!, i));
  }
  return out;
}
