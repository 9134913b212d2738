import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateLimitedError, requestContext } from '@portcullis/platform';
import { TenantGate, type TenantGateLimits } from '../../src/platform/tenant-gate';

/** A unit of work the test finishes when it chooses. */
function held(): { promise: Promise<void>; finish: () => void; started: boolean } {
  let finish!: () => void;
  const promise = new Promise<void>((resolve) => (finish = resolve));
  return { promise, finish, started: false };
}

const LIMITS: TenantGateLimits = {
  slots: 4,
  perTenant: 2,
  perTenantExpensive: 2,
  perRequest: 8,
  maxQueuedPerTenant: 3,
  maxWaitMs: 60_000,
};
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('tenant gate', () => {
  it('holds a tenant to its share and lets another tenant start meanwhile', async () => {
    const gate = new TenantGate('test', LIMITS);
    const flood = Array.from({ length: 5 }, () => held());
    const runs = flood.map((w) =>
      gate.run('a', async () => {
        w.started = true;
        await w.promise;
      }),
    );
    await tick();
    assert.equal(flood.filter((w) => w.started).length, 2, 'tenant a runs at most 2 at once');
    assert.equal(gate.snapshot().tenants['a']?.queued, 3);
    const other = held();
    const otherRun = gate.run('b', async () => {
      other.started = true;
    });
    await otherRun;
    assert.ok(other.started, 'tenant b started while tenant a was queued');
    for (const w of flood) w.finish();
    await Promise.all(runs);
    assert.equal(flood.filter((w) => w.started).length, 5);
    assert.deepEqual(gate.snapshot().tenants, {});
    assert.equal(gate.snapshot().active, 0);
  });

  it('refuses with RATE_LIMITED once the tenant queue is full, without running the work', async () => {
    const gate = new TenantGate('test', LIMITS);
    const blockers = Array.from({ length: 5 }, () => held());
    const runs = blockers.map((w) => gate.run('a', () => w.promise));
    let ran = false;
    await assert.rejects(
      gate.run('a', async () => {
        ran = true;
      }),
      (err: unknown) =>
        err instanceof RateLimitedError && err.code === 'RATE_LIMITED' && /2 running, 3 waiting/.test(err.message),
    );
    assert.equal(ran, false);
    assert.equal(gate.snapshot().refused, 1);
    for (const w of blockers) w.finish();
    await Promise.all(runs);
  });

  it('refuses a waiter that waited past maxWaitMs and serves the rest', async () => {
    const gate = new TenantGate('test', { ...LIMITS, perTenant: 1, perTenantExpensive: 1, maxWaitMs: 20 });
    const blocker = held();
    const first = gate.run('a', () => blocker.promise);
    await assert.rejects(
      gate.run('a', async () => undefined),
      (err: unknown) => err instanceof RateLimitedError && /waited 20 ms/.test(err.message),
    );
    blocker.finish();
    await first;
    assert.equal(await gate.run('a', async () => 'after'), 'after');
  });

  it('holds one request to its share even when the tenant has room', async () => {
    const gate = new TenantGate('test', { ...LIMITS, perTenant: 3, perRequest: 1 });
    const works = Array.from({ length: 3 }, () => held());
    const runs = requestContext.run({ requestId: 'r1' }, () =>
      works.map((w) =>
        gate.run('a', async () => {
          w.started = true;
          await w.promise;
        }),
      ),
    );
    await tick();
    assert.equal(works.filter((w) => w.started).length, 1);
    // another request of the same tenant is not held back by r1's cap
    const other = await requestContext.run({ requestId: 'r2' }, () => gate.run('a', async () => 'r2 ran'));
    assert.equal(other, 'r2 ran');
    for (const w of works) w.finish();
    await Promise.all(runs);
    assert.equal(works.filter((w) => w.started).length, 3);
  });

  it('serves waiting tenants in turn, not in arrival order', async () => {
    const gate = new TenantGate('test', {
      slots: 2,
      perTenant: 1,
      perTenantExpensive: 1,
      perRequest: 8,
      maxQueuedPerTenant: 10,
      maxWaitMs: 60_000,
    });
    const order: string[] = [];
    const blockerA = held();
    const blockerX = held();
    const runs = [gate.run('x', () => blockerX.promise), gate.run('a', () => blockerA.promise)];
    // one slot cycles: tenant a queued three before tenant b queued one; b must not wait behind all of a's
    for (const name of ['a1', 'a2', 'a3']) runs.push(gate.run('a', async () => void order.push(name)));
    runs.push(gate.run('b', async () => void order.push('b1')));
    blockerA.finish();
    while (order.length < 4) await tick();
    blockerX.finish();
    await Promise.all(runs);
    assert.deepEqual(order, ['a1', 'b1', 'a2', 'a3']);
  });

  it('holds a tenant to fewer transactions at once for operations holding an expensive field', async () => {
    const gate = new TenantGate('test', { ...LIMITS, perTenant: 3, perTenantExpensive: 1 });
    const exports = Array.from({ length: 3 }, () => held());
    const runs = exports.map((w, i) =>
      requestContext.run({ requestId: `export-${i}`, expensive: true }, () =>
        gate.run('a', async () => {
          w.started = true;
          await w.promise;
        }),
      ),
    );
    await tick();
    assert.equal(exports.filter((w) => w.started).length, 1, 'one expensive operation of the tenant at a time');
    // the same tenant's cheap reads still find their share
    assert.equal(await requestContext.run({ requestId: 'list' }, () => gate.run('a', async () => 'listed')), 'listed');
    for (const w of exports) w.finish();
    await Promise.all(runs);
    assert.equal(exports.filter((w) => w.started).length, 3);
  });

  it('does not gate work nested in a gated run (no deadlock at the limit)', async () => {
    const gate = new TenantGate('test', {
      ...LIMITS,
      slots: 2,
      perTenant: 1,
      perTenantExpensive: 1,
      maxQueuedPerTenant: 0,
    });
    const out = await gate.run('a', () => gate.run('a', async () => 'nested'));
    assert.equal(out, 'nested');
  });

  it('refuses a configuration where one tenant could take every slot', () => {
    assert.throws(() => new TenantGate('test', { ...LIMITS, perTenant: 4 }), /must be below the gate's 4 slots/);
  });
});
