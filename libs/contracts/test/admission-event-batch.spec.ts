import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_ERRORS,
  MAX_EVENTS_PER_BATCH,
  snapshotIdsOf,
  validateAdmissionEventBatch,
  type BatchValidated,
} from '@portcullis/contracts';
import { admissionEvent, finding } from '@portcullis/testing';

/** The event these specs start from: an audited pod admission with one finding. */
const event = (overrides: Record<string, unknown> = {}) =>
  admissionEvent({
    decision: 'AUDITED',
    findings: [finding()],
    requestingUser: {
      username: 'system:serviceaccount:kube-system:replicaset-controller',
      groups: ['system:serviceaccounts'],
    },
    ...overrides,
  });

type Rejected = Extract<BatchValidated, { ok: false }>;
function rejected(value: unknown): Rejected {
  const r = validateAdmissionEventBatch(value);
  assert.equal(r.ok, false, 'expected the batch to be rejected');
  return r as Rejected;
}

describe('AdmissionEventBatch', () => {
  it('accepts a batch, events in order', () => {
    const events = [
      event(),
      event({ decision: 'ALLOWED', findings: [] }),
      event({ operation: 'DELETE', decision: 'ALLOWED', findings: [] }),
    ];
    const r = validateAdmissionEventBatch(JSON.parse(JSON.stringify({ events })));
    assert.ok(r.ok);
    assert.deepEqual(r.value.events, events);
  });

  it('rejects the whole batch for one bad event, with its index and reason', () => {
    const events = [
      event(),
      event(),
      event(),
      event({ decision: 'ALLOWED', findings: [finding({ action: 'BLOCK' })] }),
      event(),
    ];
    const r = rejected({ events });
    assert.equal(r.index, 3);
    assert.deepEqual(r.errors[0], {
      path: 'events[3].decision',
      message: 'is ALLOWED but the findings make it DENIED',
    });
  });

  it('refuses a bundleRevision above 2^31-1 (an int4 column), naming it, instead of storing it wrapped', () => {
    for (const bundleRevision of [2 ** 31, 2 ** 53 + 2]) {
      const r = rejected({ events: [event(), event({ bundleRevision })] });
      assert.equal(r.index, 1);
      assert.equal(r.errors[0]!.path, 'events[1].bundleRevision');
      assert.match(r.errors[0]!.message, /2147483647/);
    }
    assert.ok(validateAdmissionEventBatch({ events: [event({ bundleRevision: 2 ** 31 - 1 })] }).ok);
  });

  it('reports the first offending index, and the errors of later events after it', () => {
    const events = [event(), event({ occurredAt: 'yesterday' }), event(), event(), event({ kind: '' })];
    const r = rejected({ events });
    assert.equal(r.index, 1);
    assert.deepEqual(
      r.errors.map((e) => e.path),
      ['events[1].occurredAt', 'events[4].kind'],
    );
  });

  it('sorts errors by event even when a later event fails a cross-field rule and an earlier one a field', () => {
    const events = [event(), event(), event({ decision: 'DENIED' }), event(), event(), event({ images: 'nginx' })];
    const r = rejected({ events });
    assert.equal(r.index, 2);
    assert.equal(r.errors[0]!.path, 'events[2].decision');
  });

  it('rejects a repeated eventId (whatever its case) at the repeat', () => {
    const first = event();
    const r = rejected({ events: [first, event(), { ...event(), eventId: first.eventId.toUpperCase() }] });
    assert.equal(r.index, 2);
    assert.deepEqual(r.errors[0], { path: 'events[2].eventId', message: 'repeats events[0].eventId' });
  });

  const batchLevel: Array<[string, unknown, string, RegExp]> = [
    ['an empty batch', { events: [] }, 'events', /at least 1/],
    [
      'more than 1000 events',
      { events: Array.from({ length: MAX_EVENTS_PER_BATCH + 1 }, () => event()) },
      'events',
      /at most 1000/,
    ],
    ['no events property', { event: [] }, 'events', /Required/],
    ['events that is not an array', { events: event() }, 'events', /Expected array/],
    ['a body that is an array', [event()], '(body)', /Expected object/],
    ['null', null, '(body)', /Expected object/],
  ];
  for (const [what, value, path, message] of batchLevel) {
    it(`rejects ${what} with no event index`, () => {
      const r = rejected(value);
      assert.equal(r.index, null);
      assert.equal(r.errors[0]!.path, path);
      assert.match(r.errors[0]!.message, message);
    });
  }

  it('accepts exactly 1000 events', () => {
    assert.ok(validateAdmissionEventBatch({ events: Array.from({ length: MAX_EVENTS_PER_BATCH }, () => event()) }).ok);
  });

  it(`caps the error list at ${MAX_ERRORS}, keeping the first ones`, () => {
    const events = Array.from({ length: 50 }, (_, i) => (i % 2 ? event({ dryRun: 'no' }) : event()));
    const r = rejected({ events });
    assert.equal(r.index, 1);
    assert.equal(r.errors.length, MAX_ERRORS);
    assert.equal(r.errors[MAX_ERRORS - 1]!.path, `events[${2 * MAX_ERRORS - 1}].dryRun`);
  });
});

describe('snapshot ids in the answer to an upload', () => {
  const ID = 'f'.repeat(64);
  it('reads the ids and indexes that fit the batch', () => {
    assert.deepEqual(
      snapshotIdsOf(
        {
          accepted: 3,
          snapshots: [
            { index: 0, hash: ID },
            { index: 2, hash: ID },
          ],
          unknownSnapshots: [1],
        },
        3,
      ),
      {
        stored: [
          { index: 0, hash: ID },
          { index: 2, hash: ID },
        ],
        unknown: [1],
      },
    );
  });

  it('leaves out what is not well-formed or outside the batch, and reads an answer without ids as none', () => {
    const answer = {
      snapshots: [
        { index: 3, hash: ID },
        { index: -1, hash: ID },
        { index: 0.5, hash: ID },
        { index: 0, hash: ID.toUpperCase() },
        { index: 1 },
        null,
        'x',
      ],
      unknownSnapshots: [5, '1', 0],
    };
    assert.deepEqual(snapshotIdsOf(answer, 3), { stored: [], unknown: [0] });
    assert.deepEqual(snapshotIdsOf({ accepted: 3, duplicates: 0 }, 3), { stored: [], unknown: [] });
    assert.deepEqual(snapshotIdsOf(null, 3), { stored: [], unknown: [] });
  });
});
