import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import pino from 'pino';
import { JwksError, SigningKey, fromJwks, generateSigningKey, jwkThumbprint, toJwks } from '@portcullis/bundle';
import { secretOf } from './fixtures';

describe('SigningKey', () => {
  const key = generateSigningKey();
  const secrets = secretOf(key);
  const leaks = (text: string): boolean => secrets.some((s) => text.includes(s)) || text.includes('PRIVATE KEY');

  it('derives its kid as the RFC 7638 thumbprint (RFC 8037 appendix A.3 vector)', () => {
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' },
      format: 'jwk',
    });
    assert.equal(jwkThumbprint(publicKey), 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
    assert.equal(key.kid, jwkThumbprint(key.publicKey));
  });

  it('never shows private material through JSON, inspect, String, spread or a pino log line', () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) }),
    );
    logger.info({ key, nested: { keys: [key] } }, 'loaded');
    logger.info(key as unknown as object, 'as merge object');
    const renderings = [
      JSON.stringify(key),
      JSON.stringify({ a: [key] }),
      inspect(key),
      inspect({ deep: { deeper: { key } } }, { depth: 10, showHidden: true }),
      String(key),
      `${key}`,
      JSON.stringify({ ...key }),
      inspect({ ...key }, { depth: 5, showHidden: true }),
      ...lines,
    ];
    for (const r of renderings) assert.equal(leaks(r), false, `leaked: ${r}`);
    assert.deepEqual(JSON.parse(JSON.stringify(key)), { kid: key.kid, privateKey: '[redacted]' });
    assert.match(inspect(key), /privateKey: \[redacted\]/);
    assert.equal(Object.keys(key).includes('privateKey'), false);
    assert.equal(lines.length, 2);
  });

  it('refuses a key that is not an Ed25519 private key', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    assert.throws(() => new SigningKey(rsa), /Ed25519 private key, not private rsa/);
    assert.throws(() => new SigningKey(generateSigningKey().publicKey), /Ed25519 private key/);
    assert.throws(() => generateSigningKey('has space'), /key id must be/);
  });
});

describe('JWKS', () => {
  const a = generateSigningKey();
  const b = generateSigningKey('2025-06');

  it('publishes only public members, in the documented shape', () => {
    const jwks = toJwks([a, b]);
    assert.deepEqual(Object.keys(jwks.keys[0]!).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    assert.equal(jwks.keys[1]!.kid, '2025-06');
    const text = JSON.stringify(jwks);
    assert.doesNotMatch(text, /"d"/);
    for (const s of [...secretOf(a), ...secretOf(b)]) assert.equal(text.includes(s), false);
  });

  it('round-trips to trusted keys with the same kids and public keys', () => {
    const trusted = fromJwks(JSON.parse(JSON.stringify(toJwks([a, b]))) as unknown);
    assert.deepEqual(
      trusted.map((t) => t.kid),
      [a.kid, '2025-06'],
    );
    assert.ok(trusted[0]!.publicKey.equals(a.publicKey));
  });

  it('ignores keys for other algorithms and uses, as JWKS consumers do', () => {
    const jwks = {
      keys: [
        { kty: 'RSA', n: 'x', e: 'AQAB', kid: 'rsa' },
        { ...toJwks([a]).keys[0]!, use: 'enc' },
        toJwks([b]).keys[0],
      ],
    };
    assert.deepEqual(
      fromJwks(jwks).map((t) => t.kid),
      ['2025-06'],
    );
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['no keys array', { kid: 'x' }, /not an object with a "keys" array/],
    ['null', null, /not an object/],
    ['no Ed25519 key', { keys: [] }, /holds no Ed25519 signing key/],
    ['a private member', { keys: [{ ...toJwks([a]).keys[0]!, d: 'secret' }] }, /keys\[0\] holds private key material/],
    ['a short x', { keys: [{ ...toJwks([a]).keys[0]!, x: 'abc' }] }, /keys\[0\]\.x is not/],
    ['no kid', { keys: [{ kty: 'OKP', crv: 'Ed25519', x: toJwks([a]).keys[0]!.x }] }, /keys\[0\]\.kid is missing/],
    [
      'a duplicate kid',
      { keys: [toJwks([a]).keys[0], { ...toJwks([b]).keys[0]!, kid: a.kid }] },
      /keys\[1\]\.kid .* appears twice/,
    ],
    ['an entry that is not an object', { keys: [toJwks([a]).keys[0], 'x'] }, /keys\[1\] is not an object/],
  ];
  for (const [what, jwks, message] of bad) {
    it(`refuses a JWKS with ${what}`, () => {
      assert.throws(
        () => fromJwks(jwks),
        (e: unknown) => e instanceof JwksError && message.test(e.message),
      );
    });
  }
});
