import type { Redis } from 'ioredis';
import type { Alert, DestinationKind } from './alert';
import { CONTENT_TYPES, siemBatchBody, slackBody, teamsBody, webhookBody } from './payloads';
import { DeliveryNetworkError, safePost, type HttpAnswer, type SafeHttpOptions } from './safe-http';
import { webhookHeaders } from './signing';

/** A destination as the worker sends to it: opened (decrypted) for this attempt only, never logged. */
export interface DeliveryTarget {
  readonly id: string;
  readonly kind: DestinationKind;
  readonly url: string;
  /** WEBHOOK: the current secret, then the previous one during a rotation's overlap. */
  readonly secrets: readonly string[];
  /** SIEM: a header carrying a token (e.g. Authorization: Bearer …). */
  readonly tokenHeader?: string;
  readonly token?: string;
}

/** What one attempt came to; `reason` never holds a URL path, a secret or a token. */
export type AttemptOutcome =
  | { readonly result: 'delivered'; readonly status: number }
  | { readonly result: 'retry'; readonly status?: number; readonly reason: string; readonly retryAfterMs?: number }
  | { readonly result: 'dead'; readonly status?: number; readonly reason: string };

/** 2xx delivered; 408, 425, 429 and 5xx retried (Retry-After honoured); a 3xx is never followed; other 4xx dead at once. */
export function classifyAnswer(answer: HttpAnswer): AttemptOutcome {
  const s = answer.status;
  if (s >= 200 && s < 300) return { result: 'delivered', status: s };
  if (s >= 300 && s < 400)
    return {
      result: 'dead',
      status: s,
      reason: `answered ${s} redirect${answer.location ? ` to ${answer.location}` : ''}: redirects are never followed`,
    };
  if (s === 408 || s === 425 || s === 429 || s >= 500)
    return {
      result: 'retry',
      status: s,
      reason: `answered ${s}`,
      ...(answer.retryAfterMs !== undefined ? { retryAfterMs: answer.retryAfterMs } : {}),
    };
  return { result: 'dead', status: s, reason: `answered ${s}: the receiver refuses the request, retrying cannot help` };
}

async function post(target: DeliveryTarget, body: string, headers: Record<string, string>, http: SafeHttpOptions) {
  try {
    return classifyAnswer(
      await safePost(target.url, body, { 'content-type': CONTENT_TYPES[target.kind], ...headers }, http),
    );
  } catch (err) {
    if (err instanceof DeliveryNetworkError)
      return err.permanent
        ? ({ result: 'dead', reason: err.message } as const)
        : ({ result: 'retry', reason: err.message } as const);
    throw err;
  }
}

/** One alert to one WEBHOOK, SLACK or TEAMS destination. */
export function sendAlert(
  target: DeliveryTarget,
  alert: Alert,
  http: SafeHttpOptions,
  now = new Date(),
): Promise<AttemptOutcome> {
  switch (target.kind) {
    case 'WEBHOOK': {
      const body = webhookBody(alert, now);
      return post(target, body, webhookHeaders(target.secrets, alert.id, Math.floor(now.getTime() / 1000), body), http);
    }
    case 'SLACK':
      return post(target, slackBody(alert), {}, http);
    case 'TEAMS':
      return post(target, teamsBody(alert), {}, http);
    case 'SIEM':
      return sendSiemBatch(target, [alert], http);
  }
}

/** One NDJSON POST of CloudEvents to a SIEM destination. */
export function sendSiemBatch(
  target: DeliveryTarget,
  alerts: readonly Alert[],
  http: SafeHttpOptions,
): Promise<AttemptOutcome> {
  const headers: Record<string, string> = {};
  if (target.tokenHeader && target.token) headers[target.tokenHeader.toLowerCase()] = target.token;
  return post(target, siemBatchBody(alerts), headers, http);
}

interface Pending {
  readonly alert: Alert;
  readonly resolve: (o: AttemptOutcome) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Collects SIEM alerts per destination and sends them as one batch when `maxEvents` are
 * waiting or `maxWaitMs` after the first: each caller gets the batch's outcome. `beforeSend`
 * runs before each POST (the rate limit: it resolves when the destination may be sent to).
 */
export class SiemBatcher {
  private readonly open = new Map<string, { target: DeliveryTarget; items: Pending[]; timer: NodeJS.Timeout }>();

  constructor(
    private readonly http: SafeHttpOptions,
    private readonly maxEvents: number,
    private readonly maxWaitMs: number,
    private readonly beforeSend: (target: DeliveryTarget) => Promise<void> = async () => undefined,
  ) {}

  add(target: DeliveryTarget, alert: Alert): Promise<AttemptOutcome> {
    return new Promise<AttemptOutcome>((resolve, reject) => {
      let batch = this.open.get(target.id);
      if (!batch) {
        batch = { target, items: [], timer: setTimeout(() => this.flush(target.id), this.maxWaitMs) };
        this.open.set(target.id, batch);
      }
      // an alert twice in one batch (a stalled job taken over) is sent once: flush drops repeats
      batch.items.push({ alert, resolve, reject });
      if (batch.items.length >= this.maxEvents) this.flush(target.id);
    });
  }

  private flush(destinationId: string): void {
    const batch = this.open.get(destinationId);
    if (!batch) return;
    this.open.delete(destinationId);
    clearTimeout(batch.timer);
    const seen = new Set<string>();
    const alerts = batch.items.map((p) => p.alert).filter((a) => !seen.has(a.id) && seen.add(a.id));
    this.beforeSend(batch.target)
      .then(() => sendSiemBatch(batch.target, alerts, this.http))
      .then(
        (outcome) => batch.items.forEach((p) => p.resolve(outcome)),
        (err: unknown) => batch.items.forEach((p) => p.reject(err)),
      );
  }

  /** Sends what waits now (shutdown). */
  flushAll(): void {
    for (const id of [...this.open.keys()]) this.flush(id);
  }
}

/**
 * A token bucket per destination in Redis (one Lua call, atomic across workers): `perMinute`
 * tokens a minute, a burst of a second's worth (at least 1). Answers 0 when a request may go
 * now (and takes the token), else the milliseconds until one will be available.
 */
const BUCKET_LUA = `
local key = KEYS[1]
local rate = tonumber(ARGV[1]) / 60000
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', key, 't', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + (now - ts) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', key, 't', tokens, 'ts', now)
redis.call('PEXPIRE', key, math.ceil(burst / rate) + 60000)
return wait`;

export class DestinationRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {}

  /** Redis' own clock times the bucket, so workers on hosts whose clocks differ share it fairly. */
  async take(destinationId: string, perMinute: number): Promise<number> {
    const burst = Math.max(1, Math.floor(perMinute / 60));
    const wait = await this.redis.eval(
      BUCKET_LUA,
      1,
      `${this.keyPrefix}:alerts:rate:${destinationId}`,
      perMinute,
      burst,
    );
    return Number(wait);
  }
}
