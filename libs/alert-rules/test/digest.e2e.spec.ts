/** Digest windows against the real Redis (a random key prefix; only its own keys are removed). */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { DigestWindows, type Occurrence } from '@portcullis/alert-rules';
import { NO_DB_REASON, testDatabaseConfigured } from '@portcullis/testing';

describe('digest windows', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let redis: Redis;
  const prefix = `portcullis-test-${randomUUID().slice(0, 8)}`;
  let digests: DigestWindows;

  before(() => {
    redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
    digests = new DigestWindows(redis, prefix);
  });
  after(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  const occ = (ruleId: string, i: number, digestSeconds = 60): Occurrence => ({
    ruleId,
    digestSeconds,
    occurredAt: new Date(1_000_000 + i).toISOString(),
    sample: { n: String(i) },
  });

  it('the first occurrence alerts, the rest fold into one flush with their count and 10 samples', async () => {
    const rule = randomUUID();
    const t = 10_000_000;
    const fates = await digests.admit(
      Array.from({ length: 1000 }, (_, i) => occ(rule, i)),
      t,
    );
    assert.equal(fates[0]!.outcome, 'alert');
    assert.equal(fates[1]!.outcome, 'schedule');
    assert.deepEqual(fates[1], { outcome: 'schedule', start: t, flushAt: t + 60_000 });
    assert.ok(fates.slice(2).every((f) => f.outcome === 'folded'));
    const folded = await digests.flush(rule, t);
    assert.equal(folded!.count, 999);
    assert.equal(folded!.samples.length, 10);
    assert.equal(await digests.flush(rule, t), null, 'a window is flushed once');
    // after the flush the next occurrence alerts at once again
    assert.equal((await digests.admit([occ(rule, 1)], t + 61_000))[0]!.outcome, 'alert');
  });

  it('a window that ended with nothing folded is replaced; window 0 never folds', async () => {
    const rule = randomUUID();
    assert.equal((await digests.admit([occ(rule, 0, 1)], 5_000))[0]!.outcome, 'alert');
    assert.equal((await digests.admit([occ(rule, 1, 1)], 7_000))[0]!.outcome, 'alert');
    const off = randomUUID();
    const fates = await digests.admit([occ(off, 0, 0), occ(off, 1, 0)], 5_000);
    assert.deepEqual(
      fates.map((f) => f.outcome),
      ['alert', 'alert'],
    );
  });
});
