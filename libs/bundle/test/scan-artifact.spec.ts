import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  InvalidDocumentError,
  generateSigningKey,
  signBundle,
  signEnvelope,
  signScanArtifact,
  verifyScanArtifact,
  type ScanArtifactExpectations,
} from '@portcullis/bundle';
import { DIGEST, TENANT, sampleArtifact, sampleBundle } from './fixtures';

const key = generateSigningKey();
const expect: ScanArtifactExpectations = { trustedKeys: [key] };

function reasonOf(envelope: unknown, overrides: Partial<ScanArtifactExpectations> = {}): string {
  const v = verifyScanArtifact(envelope, { ...expect, ...overrides });
  assert.equal(v.ok, false);
  return (v as { reason: string }).reason;
}

describe('signScanArtifact / verifyScanArtifact', () => {
  it('round-trips with the bundle keys and checks the image asked about', () => {
    const v = verifyScanArtifact(signScanArtifact(sampleArtifact(), key), {
      ...expect,
      tenantId: TENANT,
      image: { repository: 'docker.io/library/nginx', repoDigest: DIGEST, tag: '1.27' },
    });
    assert.ok(v.ok, JSON.stringify(v));
    assert.deepEqual(v.artifact, sampleArtifact());
  });

  it('accepts a tag-bound artifact (no repo digest) looked up by tag', () => {
    const { repoDigest: _omitted, ...rest } = sampleArtifact();
    const v = verifyScanArtifact(signScanArtifact({ ...rest, tagBound: true }, key), {
      ...expect,
      image: { repository: 'docker.io/library/nginx', tag: 'latest' },
    });
    assert.ok(v.ok);
  });

  it("refuses another image's artifact as WRONG_IMAGE: digest, repository or tag", () => {
    const signed = signScanArtifact(sampleArtifact(), key);
    assert.equal(reasonOf(signed, { image: { repoDigest: `sha256:${'ef'.repeat(32)}` } }), 'WRONG_IMAGE');
    assert.equal(reasonOf(signed, { image: { repository: 'docker.io/library/redis' } }), 'WRONG_IMAGE');
    assert.equal(reasonOf(signed, { image: { tag: '1.26' } }), 'WRONG_IMAGE');
  });

  it("refuses another tenant's artifact as WRONG_TENANT", () => {
    assert.equal(
      reasonOf(signScanArtifact(sampleArtifact(), key), { tenantId: '00000000-0000-4000-8000-000000000000' }),
      'WRONG_TENANT',
    );
  });

  it('shares the envelope failures with bundles: unknown key, bad signature, malformed', () => {
    assert.equal(reasonOf(signScanArtifact(sampleArtifact(), generateSigningKey())), 'UNKNOWN_KEY');
    assert.equal(reasonOf(signScanArtifact(sampleArtifact(), generateSigningKey(key.kid))), 'BAD_SIGNATURE');
    assert.equal(reasonOf({ payload: 'x' }), 'MALFORMED');
  });

  it('never takes a signed bundle for an artifact (INVALID_DOCUMENT)', () => {
    assert.equal(reasonOf(signBundle(sampleBundle(), key)), 'INVALID_DOCUMENT');
  });

  const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
    ['tagBound with a digest', { tagBound: true }, /tagBound: is true but repoDigest is set/],
    ['no digest and not tagBound', { repoDigest: undefined }, /tagBound: is false but there is no repoDigest/],
    ['neither digest nor tag', { repoDigest: undefined, tagBound: true, tags: [] }, /tags: is empty/],
    ['an uppercase repository', { repository: 'docker.io/Library/nginx' }, /repository: is not a repository name/],
    ['a short digest', { repoDigest: 'sha256:abcd' }, /repoDigest: is not a digest/],
    [
      'a CVSS of 11',
      { findings: [{ id: 'CVE-1', severity: 'HIGH', cvss: 11, packageName: 'p', installedVersion: '1' }] },
      /findings\[0\]\.cvss: /,
    ],
    [
      'an unknown severity',
      { findings: [{ id: 'CVE-1', severity: 'SEVERE', packageName: 'p', installedVersion: '1' }] },
      /findings\[0\]\.severity: /,
    ],
  ];
  for (const [what, overrides, message] of invalid) {
    it(`refuses to sign an artifact with ${what}, and an agent refuses it too`, () => {
      const doc = { ...sampleArtifact(), ...overrides } as never;
      assert.throws(
        () => signScanArtifact(doc, key),
        (e: unknown) => e instanceof InvalidDocumentError && message.test(e.message),
      );
      const v = verifyScanArtifact(signEnvelope(doc, key), expect);
      assert.ok(!v.ok && v.reason === 'INVALID_DOCUMENT' && message.test(v.message), JSON.stringify(v));
    });
  }
});
