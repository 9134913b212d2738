import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashSecret, issueAgentCredential, parseAgentCredential, secretMatches } from '@portcullis/credentials';

describe('agent credentials', () => {
  it('an issued credential parses back to its token id, and only its secret matches the stored hash', () => {
    const c = issueAgentCredential();
    const parsed = parseAgentCredential(c.token);
    assert.ok(parsed, c.token);
    assert.equal(parsed.tokenId, c.tokenId);
    assert.equal(hashSecret(parsed.secret), c.secretHash);
    assert.equal(secretMatches(parsed.secret, c.secretHash), true);
    const other = parseAgentCredential(issueAgentCredential().token)!;
    assert.equal(secretMatches(other.secret, c.secretHash), false);
  });

  it('two credentials never share a token id or a secret', () => {
    const a = issueAgentCredential();
    const b = issueAgentCredential();
    assert.notEqual(a.tokenId, b.tokenId);
    assert.notEqual(a.secretHash, b.secretHash);
  });

  it('refuses what is not an agent credential: another prefix, a short id, a truncated secret, padding', () => {
    const { token } = issueAgentCredential();
    for (const bad of [
      token.replace('pca_', 'pcs_'),
      token.slice(0, -1),
      token.replace(/^pca_./, 'pca_'),
      `${token}=`,
      ` ${token}`,
      '',
      'Bearer ' + token,
    ]) {
      assert.equal(parseAgentCredential(bad), undefined, JSON.stringify(bad));
    }
  });

  it('a stored hash of another length never matches (no exception from the constant-time compare)', () => {
    assert.equal(secretMatches('x', 'abcd'), false);
    assert.equal(secretMatches('x', ''), false);
  });
});
