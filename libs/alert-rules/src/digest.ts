import type { Redis } from 'ioredis';

/** Examples a digest carries at most. */
export const DIGEST_SAMPLES = 10;

/**
 * Per alert rule, in Redis so every API and worker process agrees: the first occurrence opens
 * a window and alerts at once; later ones within `digestSeconds` are counted (with up to 10
 * samples) and the first of them asks for one flush at the window's end, which sends one digest
 * with the count. So a rule firing 100,000 times in a window sends two messages, not 100,000.
 * A window that ended with nothing folded is simply replaced by the next occurrence.
 *
 * KEYS[1] window hash (start, folded, firstAt, scheduled), KEYS[2] samples list
 * ARGV now, window ms, key ttl ms, sample JSON, occurredAt
 * -> {0, start}: alert now; {1, start}: folded; {2, start}: folded, schedule the flush at start + window
 */
const ADMIT = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local start = tonumber(redis.call('HGET', KEYS[1], 'start'))
if start == nil or (now >= start + window and redis.call('HEXISTS', KEYS[1], 'scheduled') == 0) then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[1], 'start', now, 'folded', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {0, now}
end
redis.call('HINCRBY', KEYS[1], 'folded', 1)
redis.call('HSETNX', KEYS[1], 'firstAt', ARGV[5])
if redis.call('LLEN', KEYS[2]) < ${DIGEST_SAMPLES} then
  redis.call('RPUSH', KEYS[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
if redis.call('HSETNX', KEYS[1], 'scheduled', 1) == 1 then return {2, start} end
return {1, start}`;

/**
 * Takes what a window folded, once: only for the window that started at ARGV[1]; the window
 * is removed, so the next occurrence alerts at once again.
 * -> {folded, firstAt, samples...} or nil
 */
const FLUSH = `
local start = redis.call('HGET', KEYS[1], 'start')
if start == false or tonumber(start) ~= tonumber(ARGV[1]) then return nil end
local folded = redis.call('HGET', KEYS[1], 'folded')
local firstAt = redis.call('HGET', KEYS[1], 'firstAt') or ''
local samples = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[1], KEYS[2])
local out = {folded, firstAt}
for i = 1, #samples do out[#out + 1] = samples[i] end
return out`;

export interface Occurrence {
  readonly ruleId: string;
  readonly digestSeconds: number;
  readonly occurredAt: string;
  readonly sample: Readonly<Record<string, string>>;
}

export type Admission =
  | { readonly outcome: 'alert' }
  | { readonly outcome: 'folded' }
  | { readonly outcome: 'schedule'; readonly start: number; readonly flushAt: number };

export interface Folded {
  readonly count: number;
  readonly firstAt: string;
  readonly samples: ReadonlyArray<Readonly<Record<string, string>>>;
}

export class DigestWindows {
  constructor(
    private readonly redis: Redis,
    private readonly redisPrefix: string,
  ) {}

  private keys(ruleId: string): [string, string] {
    const base = `${this.redisPrefix}:alert-digest:${ruleId}`;
    return [base, `${base}:samples`];
  }

  /** Each occurrence's fate, in order, in one pipelined round trip. Digest window 0: every one alerts. */
  async admit(occurrences: readonly Occurrence[], now: number): Promise<Admission[]> {
    const out: Admission[] = new Array<Admission>(occurrences.length);
    const pipeline = this.redis.pipeline();
    const sent: number[] = [];
    occurrences.forEach((o, i) => {
      if (o.digestSeconds <= 0) {
        out[i] = { outcome: 'alert' };
        return;
      }
      const windowMs = o.digestSeconds * 1000;
      const [hash, samples] = this.keys(o.ruleId);
      // the key outlives its window by far: a flush that runs late still finds what it folded
      const ttl = windowMs + 3_600_000;
      pipeline.eval(ADMIT, 2, hash, samples, now, windowMs, ttl, JSON.stringify(o.sample), o.occurredAt);
      sent.push(i);
    });
    if (sent.length === 0) return out;
    const results = (await pipeline.exec()) ?? [];
    sent.forEach((i, j) => {
      const [err, value] = results[j] ?? [new Error('no reply')];
      if (err) throw err;
      const [code, start] = value as [number, number];
      const o = occurrences[i]!;
      out[i] =
        code === 0
          ? { outcome: 'alert' }
          : code === 2
            ? { outcome: 'schedule', start: Number(start), flushAt: Number(start) + o.digestSeconds * 1000 }
            : { outcome: 'folded' };
    });
    return out;
  }

  /** What the window that opened at `start` folded, or null (flushed already, or nothing folded). */
  async flush(ruleId: string, start: number): Promise<Folded | null> {
    const [hash, samples] = this.keys(ruleId);
    const reply = (await this.redis.eval(FLUSH, 2, hash, samples, start)) as string[] | null;
    if (!reply) return null;
    const count = Number(reply[0]);
    if (!(count > 0)) return null;
    return {
      count,
      firstAt: reply[1] ?? '',
      samples: reply.slice(2).map((s) => JSON.parse(s) as Record<string, string>),
    };
  }
}
