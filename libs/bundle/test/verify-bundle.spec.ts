import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  InvalidDocumentError,
  canonicalJson,
  contentHash,
  fromJwks,
  generateSigningKey,
  signBundle,
  signEnvelope,
  toJwks,
  verifyBundle,
  type BundleExpectations,
  type SignedEnvelope,
} from '@portcullis/bundle';
import { CLUSTER, NOW, OTHER_CLUSTER, TENANT, sampleArtifact, sampleBundle } from './fixtures';

const key = generateSigningKey();
const expect: BundleExpectations = { trustedKeys: [key], clusterId: CLUSTER, now: NOW };

const decode = (env: SignedEnvelope): Record<string, unknown> =>
  JSON.parse(Buffer.from(env.payload, 'base64url').toString('utf8')) as Record<string, unknown>;
const encode = (doc: unknown): string => Buffer.from(canonicalJson(doc), 'utf8').toString('base64url');

function rejection(
  envelope: unknown,
  overrides: Partial<BundleExpectations> = {},
): { reason: string; message: string } {
  const v = verifyBundle(envelope, { ...expect, ...overrides });
  assert.equal(v.ok, false, 'expected a rejection');
  return v as { reason: string; message: string };
}

describe('signBundle / verifyBundle', () => {
  it('round-trips: the payload is the canonical JSON, the kid is the signing key, the bundle comes back equal', () => {
    const signed = signBundle(sampleBundle(), key);
    assert.equal(Buffer.from(signed.payload, 'base64url').toString('utf8'), canonicalJson(sampleBundle()));
    assert.equal(signed.kid, key.kid);
    const v = verifyBundle(signed, expect);
    assert.ok(v.ok, JSON.stringify(v));
    assert.deepEqual(v.bundle, sampleBundle());
    assert.equal(v.kid, key.kid);
  });

  it('survives a JSON round trip of the envelope (what HTTP does to it)', () => {
    const wire = JSON.parse(JSON.stringify(signBundle(sampleBundle(), key))) as unknown;
    assert.ok(verifyBundle(wire, expect).ok);
  });

  it('rejects a tampered payload (BLOCK turned into AUDIT) as BAD_SIGNATURE', () => {
    const signed = signBundle(sampleBundle(), key);
    const doc = decode(signed);
    (doc['policies'] as Array<Record<string, unknown>>)[0]!['action'] = 'AUDIT';
    const r = rejection({ ...signed, payload: encode(doc) });
    assert.equal(r.reason, 'BAD_SIGNATURE');
    assert.match(r.message, new RegExp(`trusted key ${key.kid}`));
  });

  it('rejects a flipped signature bit as BAD_SIGNATURE', () => {
    const signed = signBundle(sampleBundle(), key);
    const sig = Buffer.from(signed.signature, 'base64url');
    sig[10] = sig[10]! ^ 0x01;
    assert.equal(rejection({ ...signed, signature: sig.toString('base64url') }).reason, 'BAD_SIGNATURE');
  });

  it('rejects a bundle signed by an untrusted key that claims a trusted kid as BAD_SIGNATURE', () => {
    const impostor = generateSigningKey(key.kid);
    assert.equal(rejection(signBundle(sampleBundle(), impostor)).reason, 'BAD_SIGNATURE');
  });

  it('rejects an unknown kid as UNKNOWN_KEY, quoting it safely', () => {
    const stranger = generateSigningKey('kid-"stranger"');
    const r = rejection(signBundle(sampleBundle(), stranger));
    assert.equal(r.reason, 'UNKNOWN_KEY');
    assert.match(r.message, /"kid-\\"stranger\\"" is not among the trusted keys/);
  });

  it('rejects an expired bundle as EXPIRED, at and after expiresAt, and accepts it 1 ms before', () => {
    const signed = signBundle(sampleBundle({ expiresAt: '2025-06-01T12:00:00.000Z' }), key);
    assert.equal(rejection(signed).reason, 'EXPIRED');
    assert.equal(rejection(signed, { now: new Date('2025-06-02T00:00:00Z') }).reason, 'EXPIRED');
    assert.ok(verifyBundle(signed, { ...expect, now: new Date(NOW.getTime() - 1) }).ok);
  });

  it('rejects an older revision as ROLLBACK; the same revision is the same bundle; a newer one is fine', () => {
    const signed = signBundle(sampleBundle({ revision: 7 }), key);
    const r = rejection(signed, { heldRevision: 8 });
    assert.equal(r.reason, 'ROLLBACK');
    assert.match(r.message, /revision 7 is older than the held revision 8/);
    assert.ok(verifyBundle(signed, { ...expect, heldRevision: 7 }).ok);
    assert.ok(verifyBundle(signed, { ...expect, heldRevision: 6 }).ok);
  });

  it("rejects another cluster's bundle as WRONG_CLUSTER, and another tenant's as WRONG_TENANT", () => {
    assert.equal(rejection(signBundle(sampleBundle({ clusterId: OTHER_CLUSTER }), key)).reason, 'WRONG_CLUSTER');
    const r = rejection(signBundle(sampleBundle(), key), { tenantId: '00000000-0000-4000-8000-000000000000' });
    assert.equal(r.reason, 'WRONG_TENANT');
    assert.ok(verifyBundle(signBundle(sampleBundle(), key), { ...expect, tenantId: TENANT }).ok);
  });

  it('gives each of the six failures of issue #5 its own reason', () => {
    const impostor = generateSigningKey(key.kid);
    const signed = signBundle(sampleBundle(), key);
    const tampered = { ...signed, payload: encode({ ...decode(signed), revision: 99 }) };
    const reasons = [
      rejection(tampered).reason,
      rejection(signBundle(sampleBundle(), impostor)).reason,
      rejection(signBundle(sampleBundle(), generateSigningKey())).reason,
      rejection(signed, { now: new Date('2030-01-01T00:00:00Z') }).reason,
      rejection(signed, { heldRevision: 8 }).reason,
      rejection(signBundle(sampleBundle({ clusterId: OTHER_CLUSTER }), key)).reason,
    ];
    // tampering and a wrong key both fail the signature; everything else is distinct
    assert.deepEqual(reasons, [
      'BAD_SIGNATURE',
      'BAD_SIGNATURE',
      'UNKNOWN_KEY',
      'EXPIRED',
      'ROLLBACK',
      'WRONG_CLUSTER',
    ]);
  });

  const signed = signBundle(sampleBundle(), key);
  const malformed: Array<[string, unknown, RegExp]> = [
    ['null', null, /not an object/],
    ['an array', [signed.payload, signed.signature, signed.kid], /not an object/],
    ['a string', JSON.stringify(signed), /not an object/],
    ['no signature', { payload: signed.payload, kid: signed.kid }, /signature is missing/],
    ['a numeric kid', { ...signed, kid: 7 }, /kid is missing or not a non-empty string/],
    [
      'standard base64 in the payload',
      { ...signed, payload: Buffer.from(canonicalJson(sampleBundle())).toString('base64') },
      /payload is not base64url/,
    ],
    ['a padded payload', { ...signed, payload: `${signed.payload}==` }, /payload is not base64url/],
    [
      'spaces in the payload',
      { ...signed, payload: `${signed.payload.slice(0, 10)} ${signed.payload.slice(10)}` },
      /payload is not base64url/,
    ],
    ['a truncated signature', { ...signed, signature: signed.signature.slice(0, 40) }, /signature is not 64 bytes/],
  ];
  for (const [what, envelope, message] of malformed) {
    it(`rejects ${what} as MALFORMED`, () => {
      const r = rejection(envelope);
      assert.equal(r.reason, 'MALFORMED');
      assert.match(r.message, message);
    });
  }

  it('rejects a validly signed payload that is not JSON as MALFORMED', () => {
    const bytes = Buffer.from('{"schemaVersion":1,', 'utf8');
    const env = {
      payload: bytes.toString('base64url'),
      signature: sign(null, bytes, key.privateKey).toString('base64url'),
      kid: key.kid,
    };
    assert.deepEqual(rejection(env), { ok: false, reason: 'MALFORMED', message: 'the signed payload is not JSON' });
  });

  it('rejects a validly signed document that is not a bundle as INVALID_DOCUMENT, naming the field', () => {
    const r = rejection(signEnvelope({ ...sampleBundle(), revision: 0 }, key));
    assert.equal(r.reason, 'INVALID_DOCUMENT');
    assert.match(r.message, /^the signed document is not a bundle: revision: /);
    const artifact = rejection(signEnvelope(sampleArtifact(), key));
    assert.equal(artifact.reason, 'INVALID_DOCUMENT', 'a scan artifact is never mistaken for a bundle');
    const bad = sampleBundle();
    const r2 = rejection(signEnvelope({ ...bad, policies: [{ ...bad.policies[0]!, action: 'WARN' }] }, key));
    assert.match(r2.message, /policies\[0\]\.action: /);
  });

  it('drops properties it does not know (a newer API), keeping what the agent understands', () => {
    const v = verifyBundle(signEnvelope({ ...sampleBundle(), futureField: { x: 1 } }, key), expect);
    assert.ok(v.ok);
    assert.equal('futureField' in v.bundle, false);
  });

  it('verifies across a rotation: either trusted key verifies; a retired key stops verifying once untrusted', () => {
    const next = generateSigningKey();
    const trustedKeys = fromJwks(toJwks([next, key]));
    assert.ok(verifyBundle(signBundle(sampleBundle(), key), { ...expect, trustedKeys }).ok);
    assert.ok(verifyBundle(signBundle(sampleBundle({ revision: 8 }), next), { ...expect, trustedKeys }).ok);
    assert.equal(
      rejection(signBundle(sampleBundle(), key), { trustedKeys: fromJwks(toJwks([next])) }).reason,
      'UNKNOWN_KEY',
    );
  });

  const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
    ['revision 0', { revision: 0 }, /revision: /],
    ['a fractional revision', { revision: 1.5 }, /revision: /],
    ['expiresAt before issuedAt', { expiresAt: '2025-06-01T10:00:00Z' }, /expiresAt: is not after issuedAt/],
    ['a cluster id that is not a UUID', { clusterId: 'prod-1' }, /clusterId: /],
    ['schemaVersion 2', { schemaVersion: 2 }, /schemaVersion: /],
    [
      'a lookup timeout of 0',
      { agentSettings: { vulnerabilityLookupTimeoutMs: 0 } },
      /agentSettings\.vulnerabilityLookupTimeoutMs: /,
    ],
    [
      'a duplicate policy id',
      { policies: [sampleBundle().policies[0]!, sampleBundle().policies[0]!] },
      /policies\[1\]\.id: duplicates policies\[0\]\.id/,
    ],
    [
      'a bad rule id',
      { policies: [{ ...sampleBundle().policies[0]!, rules: [{ id: 'Resource Limits', params: {} }] }] },
      /policies\[0\]\.rules\[0\]\.id: is not a rule id/,
    ],
    [
      'params that are not an object',
      { policies: [{ ...sampleBundle().policies[0]!, rules: [{ id: 'capabilities', params: ['ALL'] }] }] },
      /policies\[0\]\.rules\[0\]\.params: /,
    ],
    // every admission matches these patterns: as many and as long as the API accepts, no more
    [
      '101 namespace include patterns',
      {
        policies: [
          {
            ...sampleBundle().policies[0]!,
            namespaces: { include: Array.from({ length: 101 }, () => 'a*'), exclude: [] },
          },
        ],
      },
      /policies\[0\]\.namespaces\.include: /,
    ],
    [
      'a 254-character namespace pattern',
      { policies: [{ ...sampleBundle().policies[0]!, namespaces: { include: [], exclude: ['a'.repeat(254)] } }] },
      /policies\[0\]\.namespaces\.exclude\[0\]: /,
    ],
    [
      '101 excluded namespaces',
      { agentSettings: { excludedNamespaces: Array.from({ length: 101 }, () => 'a*') } },
      /agentSettings\.excludedNamespaces: /,
    ],
    [
      'an unknown enforcement mode',
      { agentSettings: { enforcementMode: 'kyverno' } },
      /agentSettings\.enforcementMode: /,
    ],
  ];
  for (const [what, overrides, message] of invalid) {
    it(`refuses to sign a bundle with ${what}, naming the field`, () => {
      assert.throws(
        () => signBundle({ ...sampleBundle(), ...overrides } as never, key),
        (e: unknown) => e instanceof InvalidDocumentError && message.test(e.message),
      );
    });
  }
});

describe('contentHash', () => {
  it('ignores revision and validity, so re-signing unchanged content is detectable', () => {
    const a = sampleBundle();
    const b = sampleBundle({ revision: 8, issuedAt: '2025-06-02T00:00:00Z', expiresAt: '2025-06-09T00:00:00Z' });
    assert.equal(contentHash(a), contentHash(b));
    assert.match(contentHash(a), /^[0-9a-f]{64}$/);
  });

  it('changes with anything the agent enforces', () => {
    const base = sampleBundle();
    const p = base.policies[0]!;
    const variants = [
      sampleBundle({ policies: [{ ...p, action: 'AUDIT' }] }),
      sampleBundle({ policies: [{ ...p, rules: [{ id: 'resource-limits', params: { maxMemoryLimit: '4Gi' } }] }] }),
      sampleBundle({ policies: [{ ...p, exemptions: [] }] }),
      sampleBundle({ agentSettings: {} }),
      sampleBundle({ agentSettings: { ...base.agentSettings, enforcementMode: 'native' } }),
      sampleBundle({ clusterId: OTHER_CLUSTER }),
    ];
    const hashes = new Set([contentHash(base), ...variants.map(contentHash)]);
    assert.equal(hashes.size, variants.length + 1);
  });

  it('does not depend on property order', () => {
    const b = sampleBundle();
    const reordered = {
      agentSettings: {
        eventBatchSize: 500,
        vulnerabilityLookupTimeoutMs: 1500,
        excludedNamespaces: ['portcullis-system'],
      },
      policies: b.policies,
      clusterId: b.clusterId,
      tenantId: b.tenantId,
    };
    assert.equal(contentHash(reordered), contentHash(b));
  });
});
