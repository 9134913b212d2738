import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_SNAPSHOT_BYTES, validateAdmissionEvent } from '@portcullis/contracts';
import { admissionEvent } from '@portcullis/testing';

// jsonFitsWithin is internal; it is observed through the snapshot limit of an event
const fits = (snapshot: Record<string, unknown>): boolean => validateAdmissionEvent(admissionEvent({ snapshot })).ok;
const exactBytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v), 'utf8');

describe('snapshot size limit', () => {
  it('agrees with the exact UTF-8 size of JSON.stringify near the limit (property)', () => {
    // one string member sized around the limit, in characters of 1, 2, 3 and 4 UTF-8 bytes and escapes
    const unit = fc.constantFrom('a', 'é', '€', '😀', '\n', '\u0001', '"');
    fc.assert(
      fc.property(unit, fc.integer({ min: -40, max: 40 }), fc.jsonValue({ maxDepth: 2 }), (u, delta, extra) => {
        const perUnit = exactBytes(u) - 2;
        const count = Math.max(0, Math.floor((MAX_SNAPSHOT_BYTES - 40) / perUnit) + delta);
        const snapshot = { s: u.repeat(count), extra };
        assert.equal(fits(snapshot), exactBytes(snapshot) <= MAX_SNAPSHOT_BYTES);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses a deeply nested snapshot without overflowing the stack', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(fits({ deep }), false);
  });

  it('accepts an ordinary pod snapshot', () => {
    assert.ok(
      fits({
        apiVersion: 'v1',
        kind: 'Pod',
        spec: { containers: [{ name: 'web', image: 'nginx', env: [{ name: 'A', value: 'b' }] }] },
      }),
    );
  });
});
