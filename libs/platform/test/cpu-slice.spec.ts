import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CPU_SLICE_MS,
  EXPENSIVE_DEFER_MS,
  mapSliced,
  requestContext,
  trackInFlight,
  yieldEvery,
} from '@portcullis/platform';

/** A clock the test moves by hand: yields are counted against it, never timed. */
function manualClock() {
  let now = 0;
  return { read: () => now, advance: (ms: number) => void (now += ms) };
}

/** Counts event-loop turns other work gets while `work` runs: one setImmediate after another. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    return { result: await work(), turns };
  } finally {
    running = false;
  }
}

describe('yieldEvery', () => {
  it('yields once a slice of work has passed, not before', async () => {
    const clock = manualClock();
    const checkpoint = yieldEvery(5, clock.read);
    const { turns } = await turnsDuring(async () => {
      for (let i = 0; i < 40; i++) {
        await checkpoint();
        clock.advance(1); // one item: 1 ms of "work"
      }
    });
    // 40 ms of work in 5 ms slices: 7 yields (after 5, 10, ... 35 ms), the other task ran at each
    assert.equal(turns, 7);
  });

  it('never yields while the slice has not elapsed', async () => {
    const clock = manualClock();
    const checkpoint = yieldEvery(5, clock.read);
    const { turns } = await turnsDuring(async () => {
      for (let i = 0; i < 1000; i++) await checkpoint();
    });
    assert.equal(turns, 0);
  });

  it('slices are a few milliseconds', () => {
    assert.ok(CPU_SLICE_MS > 0 && CPU_SLICE_MS <= 10, `CPU_SLICE_MS ${CPU_SLICE_MS}`);
  });
});

describe('mapSliced', () => {
  it('maps like Array.map, in order, with indexes', async () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    assert.deepEqual(
      await mapSliced(items, (x, i) => `${x}:${i}`),
      items.map((x, i) => `${x}:${i}`),
    );
  });

  it('lets another task run between items once a slice has passed', async () => {
    const clock = manualClock();
    const seen: number[] = [];
    const { turns } = await turnsDuring(() =>
      mapSliced(
        Array.from({ length: 10 }, (_, i) => i),
        (x) => {
          clock.advance(3); // each item 3 ms: a yield before items 2, 4, 6, 8 (every 6 ms >= 5)
          seen.push(x);
          return x;
        },
        5,
        clock.read,
      ),
    );
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(turns, 4);
  });

  it('an error of one item rejects the whole map', async () => {
    await assert.rejects(
      mapSliced([1, 2, 3], (x) => {
        if (x === 2) throw new Error('item 2');
        return x;
      }),
      /item 2/,
    );
  });
});

describe('an expensive operation stands aside for other requests in flight', () => {
  /** One checkpoint past its slice, run as the request `self`; event-loop turns counted meanwhile. */
  async function checkpointAs(self: { requestId: string; expensive?: boolean }) {
    const clock = manualClock();
    const checkpoint = yieldEvery(5, clock.read);
    clock.advance(5);
    return requestContext.run(self, () => turnsDuring(checkpoint));
  }

  it('waits while a cheaper request is in flight and goes on once it is answered', async () => {
    const done = trackInFlight({ requestId: 'cheap' });
    let answered = false;
    void sleep(5).then(() => {
      answered = true;
      done();
    });
    await checkpointAs({ requestId: 'export', expensive: true });
    assert.equal(answered, true, 'the export resumed before the cheap request was answered');
  });

  it('stands aside a bounded time: a request that never ends does not stop it', async () => {
    const done = trackInFlight({ requestId: 'slow' });
    try {
      const { turns } = await checkpointAs({ requestId: 'export', expensive: true });
      // it resolved although the request is still in flight, after EXPENSIVE_DEFER_MS waits of 1 ms (each at least one turn)
      assert.ok(turns >= EXPENSIVE_DEFER_MS, `${turns} turns`);
    } finally {
      done();
    }
  });

  it('does not stand aside for other expensive requests, nor when nothing else is in flight', async () => {
    const other = { requestId: 'other-export', expensive: true };
    const done = trackInFlight(other);
    try {
      assert.ok((await checkpointAs({ requestId: 'export', expensive: true })).turns <= 2);
    } finally {
      done();
    }
    assert.ok((await checkpointAs({ requestId: 'export', expensive: true })).turns <= 2);
  });

  it('does not stand aside for a parked request (a long poll waiting for its bundle)', async () => {
    const poll = { requestId: 'agent-poll', parked: true };
    const done = trackInFlight(poll);
    try {
      assert.ok((await checkpointAs({ requestId: 'export', expensive: true })).turns <= 2);
      poll.parked = false;
      assert.ok(
        (await checkpointAs({ requestId: 'export', expensive: true })).turns > 2,
        'once it works again, the export stands aside',
      );
    } finally {
      done();
    }
  });

  it('a cheap request only yields one turn, whatever is in flight', async () => {
    const done = trackInFlight({ requestId: 'another' });
    try {
      assert.ok((await checkpointAs({ requestId: 'cheap' })).turns <= 2);
    } finally {
      done();
    }
  });
});
