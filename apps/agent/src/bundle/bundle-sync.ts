import { describeAnswer, type ApiClient } from '@portcullis/admission';
import type { Logger } from 'pino';
import { Backoff, sleep } from '../backoff';
import type { AgentMetrics } from '../metrics';
import type { BundleStore } from './bundle-store';

/**
 * Long-polls GET /agent/v1/bundle with the held revision's ETag: the API answers 304
 * when nothing changed, or holds the request until a newer revision is stored. Every
 * answer goes through the store's verification; failures back off with jitter.
 */
export class BundleSync {
  private readonly stop = new AbortController();
  private running: Promise<void> | null = null;
  lastError: string | null = null;
  /** Exchanges with the API so far, whatever their outcome. */
  polls = 0;

  constructor(
    private readonly api: ApiClient,
    private readonly store: BundleStore,
    private readonly waitSeconds: number,
    private readonly backoff: Backoff,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
    private readonly onApplied: () => void,
  ) {}

  start(): void {
    this.running = this.loop();
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      const wait = await this.pollOnce().catch((err: unknown) =>
        this.failed(`bundle fetch: ${(err as Error).message}`),
      );
      this.polls++;
      if (wait > 0) await sleep(wait, signal);
    }
  }

  /** One exchange; the time to wait before the next (0: poll again at once). */
  private async pollOnce(): Promise<number> {
    const held = this.store.revision;
    const res = await this.api.request({
      method: 'GET',
      path: `/agent/v1/bundle?waitSeconds=${this.waitSeconds}`,
      headers: held !== null && !this.store.heldExpired ? { 'if-none-match': `"rev-${held}"` } : {},
      timeoutMs: (this.waitSeconds + 15) * 1000,
      signal: this.stop.signal,
    });
    if (res.status === 304) return this.succeeded();
    if (res.status === 404) return this.failed('the API has no bundle for this cluster yet', 'info');
    if (res.status !== 200) return this.failed(`bundle fetch: ${describeAnswer(res)}`);
    let envelope: unknown;
    try {
      envelope = JSON.parse(res.body.toString('utf8'));
    } catch {
      return this.failed('bundle fetch: the answer is not JSON');
    }
    const r = this.store.accept(envelope);
    switch (r.outcome) {
      case 'applied':
        this.log.info({ revision: r.revision, previous: r.previous }, 'policy bundle applied');
        if (r.persistError)
          this.log.error(
            { err: r.persistError },
            'the applied bundle could not be persisted; a restart without the API would not enforce it',
          );
        this.lastError = r.persistError ? `bundle persist: ${r.persistError}` : null;
        this.backoff.reset();
        this.onApplied();
        return 0;
      case 'unchanged':
        return this.succeeded();
      case 'rejected':
        this.metrics.bundleRejections.inc({ reason: r.reason });
        return this.failed(`bundle rejected (${r.reason}): ${r.message}`, 'error');
    }
  }

  private succeeded(): number {
    if (this.lastError !== null) this.log.info('bundle sync recovered');
    this.lastError = null;
    this.backoff.reset();
    return 0;
  }

  private failed(message: string, level: 'info' | 'warn' | 'error' = 'warn'): number {
    const wait = this.backoff.next();
    if (this.lastError !== message || this.backoff.attempts % 10 === 1)
      this.log[level]({ problem: message, retryInMs: wait }, 'bundle sync');
    this.lastError = message;
    return wait;
  }
}
