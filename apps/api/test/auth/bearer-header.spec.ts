/**
 * One reading of `Authorization: Bearer <credential>` for user tokens, agent credentials
 * and scan upload tokens: the agent and upload guards used to take the first word after
 * the scheme and ignore the rest.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerCredentialOf } from '../../src/auth';

describe('bearerCredentialOf', () => {
  it('reads the credential after a case-insensitive Bearer scheme', () => {
    assert.equal(bearerCredentialOf('Bearer pca_abc.def'), 'pca_abc.def');
    assert.equal(bearerCredentialOf('bearer x'), 'x');
    assert.equal(bearerCredentialOf('BEARER x'), 'x');
  });

  it('tells a missing header from a malformed one', () => {
    assert.equal(bearerCredentialOf(undefined), undefined);
    assert.equal(bearerCredentialOf(''), undefined);
    for (const header of [
      'Bearer',
      'Bearer ',
      'Bearer  x',
      'Bearer x y',
      'Basic x',
      'x',
      ' Bearer x',
      ['Bearer x'],
      42,
    ]) {
      assert.equal(bearerCredentialOf(header), null, JSON.stringify(header));
    }
  });
});
