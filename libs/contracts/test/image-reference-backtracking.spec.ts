import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DIGEST, IMAGE_REFERENCE } from '@portcullis/contracts';
import { normalizeImage } from '@portcullis/policy-engine';

// The image-reference grammar is the one regular expression built at run time (from constants,
// lint-exempted in primitives.ts); it and the engine's image parser see deployer-chosen strings.
// Each repetition in them is separated by a character the next part cannot start with, so they
// do not backtrack: these crafted 20,000-character near-misses return (a catastrophic pattern
// would not, and the run would hang here instead of passing).
const LENGTH = 20_000;
const units = [
  'a',
  'a-',
  'a--',
  'a.',
  'aa.',
  'a_',
  'a__',
  'a/',
  'a./',
  'a-a.',
  'a:',
  'a1.b2/',
  'A-',
  '_/',
  'a__/',
  '[::1]/',
  'a@',
  'sha256:',
];
const tails = ['', '!', '/', ':', '@', '-', '.', '@sha256:', ':-'];

describe('image references: no backtracking on crafted input', () => {
  it('IMAGE_REFERENCE, DIGEST and normalizeImage answer on 20,000-character near-misses', () => {
    let checked = 0;
    for (const unit of units) {
      for (const tail of tails) {
        const s = unit.repeat(Math.ceil(LENGTH / unit.length)) + tail;
        // the answers themselves are ordinary: only their arrival is the point
        assert.equal(typeof IMAGE_REFERENCE.test(s), 'boolean');
        assert.equal(typeof DIGEST.test(s), 'boolean');
        assert.equal(normalizeImage(s), undefined, 'longer than any image reference');
        assert.ok(
          ['undefined', 'object'].includes(typeof normalizeImage(s.slice(0, 4096))),
          'the longest string the parser reads',
        );
        checked++;
      }
    }
    assert.equal(checked, units.length * tails.length);
  });

  it('still accepts real references', () => {
    for (const ref of [
      'nginx',
      'nginx:1.27',
      'ghcr.io/acme/web:1.4.2',
      `quay.io/calico/node:v3.32@sha256:${'c'.repeat(64)}`,
      'localhost:5000/a/b__c-d.e:tag',
      '[::1]:5000/x/y',
    ]) {
      assert.ok(IMAGE_REFERENCE.test(ref), ref);
    }
    assert.ok(!IMAGE_REFERENCE.test('Nginx'), 'repository paths are lower case');
  });
});
