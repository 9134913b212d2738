import { describeAnswer, type ApiClient } from '@portcullis/admission';
import { withoutControlCharacters, type AgentStatus } from '@portcullis/contracts';
import type { Logger } from 'pino';

/**
 * POST /agent/v1/status: the revision enforced, the last error, and the spool's health
 * (depth, drops), on an interval and whenever a bundle is applied. Best effort: the
 * next report carries the same information.
 */
export class StatusReporter {
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> | null = null;
  private again = false;
  private readonly stop = new AbortController();
  reports = 0;

  constructor(
    private readonly api: ApiClient,
    private readonly intervalMs: number,
    private readonly snapshot: () => Omit<AgentStatus, 'reportedAt'>,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.report(), this.intervalMs);
    this.timer.unref();
    this.report();
  }

  /** Sends now (or right after the report in flight). */
  report(): void {
    if (this.sending) {
      this.again = true;
      return;
    }
    this.sending = this.send().finally(() => {
      this.sending = null;
      if (this.again) {
        this.again = false;
        this.report();
      }
    });
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.again = false;
    this.stop.abort();
    await this.sending;
  }

  private async send(): Promise<void> {
    const s = this.snapshot();
    const status: AgentStatus = {
      ...s,
      ...(s.lastError ? { lastError: withoutControlCharacters(s.lastError).slice(0, 2000) } : { lastError: null }),
      reportedAt: new Date().toISOString(),
    };
    try {
      const res = await this.api.request({
        method: 'POST',
        path: '/agent/v1/status',
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify(status)),
        timeoutMs: 10_000,
        signal: this.stop.signal,
      });
      if (res.status >= 300) this.log.warn({ problem: describeAnswer(res) }, 'status report refused');
      else this.reports++;
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'status report failed');
    }
  }
}
