import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toEnforceable } from '@portcullis/admission';
import { bundleDocument, misconfigurationPolicy } from '@portcullis/testing';

// A bundle is signed by the API, which accepts no more than this; the agent bounds what it
// compiles anyway, since each admission is matched against every pattern it holds.
const withExemption = (criteria: Record<string, unknown>) =>
  bundleDocument(1, [
    misconfigurationPolicy('BLOCK', {
      exemptions: [{ id: 'e', match: 'GLOB', reason: 'r', grantedBy: 'g', ...criteria }],
    }),
  ]);

describe('bundle exemption patterns are bounded', () => {
  const refused: Array<[string, Record<string, unknown>, RegExp]> = [
    ['101 names', { names: Array.from({ length: 101 }, () => 'a*') }, /exemptions\[0\]\.names: /],
    ['a 513-character image pattern', { images: ['*'.repeat(513)] }, /exemptions\[0\]\.images\.0: /],
    ['a 254-character namespace pattern', { namespaces: ['a'.repeat(254)] }, /exemptions\[0\]\.namespaces\.0: /],
  ];
  for (const [what, criteria, field] of refused) {
    it(`refuses ${what}, naming the policy and the field`, () => {
      assert.throws(
        () => toEnforceable(withExemption(criteria)),
        (e: unknown) =>
          e instanceof Error &&
          /^policies\[0\] \("Default K8s misconfiguration rule"\)\./.test(e.message) &&
          field.test(e.message),
      );
    });
  }
  it('compiles the limits themselves', () => {
    const b = toEnforceable(
      withExemption({ names: Array.from({ length: 100 }, () => '*'.repeat(512)), namespaces: ['a'.repeat(253)] }),
    );
    assert.equal(b.compiled.length, 1);
  });
});
