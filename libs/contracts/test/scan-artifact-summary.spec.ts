import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateSigningKey, signScanArtifact, type ScanArtifactDocument } from '@portcullis/bundle';
import {
  artifactLookupOf,
  expectedImageOf,
  scanArtifactSummaryOf,
  type ScanArtifactLookupResult,
} from '@portcullis/contracts';
import {
  compilePolicies,
  evaluatePolicies,
  validateRuleParams,
  type ArtifactLookup,
  type Policy,
} from '@portcullis/policy-engine';

const TENANT = '3f2b8c1e-7d4a-4e2b-9c1d-5a6b7c8d9e0f';
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const key = generateSigningKey();
const trust = { trustedKeys: [key], tenantId: TENANT };
const artifact: ScanArtifactDocument = {
  schemaVersion: 1,
  tenantId: TENANT,
  repository: 'ghcr.io/acme/api',
  tags: ['2.3.1'],
  repoDigest: DIGEST,
  tagBound: false,
  scanner: { name: 'trivy', version: '0.58.1' },
  scannedAt: '2026-11-20T08:00:00.000Z',
  findings: [
    {
      id: 'CVE-2024-3094',
      severity: 'CRITICAL',
      cvss: 10,
      packageName: 'xz-utils',
      installedVersion: '5.6.0-1',
      fixedVersion: '5.6.1',
    },
    { id: 'CVE-2024-3094', severity: 'CRITICAL', packageName: 'liblzma5', installedVersion: '5.6.0-1' },
  ],
};
const found = (image: string, over: Partial<ScanArtifactLookupResult> = {}): ScanArtifactLookupResult => ({
  image,
  status: 'FOUND',
  resolvedBy: 'DIGEST',
  digest: DIGEST,
  artifact: signScanArtifact(artifact, key),
  ...over,
});

describe('scanArtifactSummaryOf', () => {
  it('hands the engine the image as asked, the digest, the scan time and the findings as they are', () => {
    const s = scanArtifactSummaryOf(artifact, `ghcr.io/acme/api@${DIGEST}`);
    assert.deepEqual(s, {
      image: `ghcr.io/acme/api@${DIGEST}`,
      digest: DIGEST,
      scannedAt: artifact.scannedAt,
      findings: artifact.findings,
    });
    assert.equal(s.findings, artifact.findings);
  });
});

describe('expectedImageOf', () => {
  it('a digest (bare or in a reference) expects that digest; a tag expects repository and tag', () => {
    assert.deepEqual(expectedImageOf(DIGEST), { repoDigest: DIGEST });
    assert.deepEqual(expectedImageOf(`ghcr.io/acme/api:2.3.1@${DIGEST}`), { repoDigest: DIGEST });
    assert.deepEqual(expectedImageOf('nginx'), { repository: 'docker.io/library/nginx', tag: 'latest' });
    assert.deepEqual(expectedImageOf('ghcr.io/acme/api:2.3.1'), { repository: 'ghcr.io/acme/api', tag: '2.3.1' });
  });
});

describe('artifactLookupOf', () => {
  it('NOT_FOUND is "no artifact"', () => {
    assert.deepEqual(artifactLookupOf({ image: 'nginx', status: 'NOT_FOUND' }, trust), { status: 'not-found' });
  });

  it('a verified artifact of the image asked is found', () => {
    const byDigest = artifactLookupOf(found(`ghcr.io/acme/api@${DIGEST}`), trust);
    assert.equal(byDigest.status, 'found');
    const byTag = artifactLookupOf(found('ghcr.io/acme/api:2.3.1', { resolvedBy: 'TAG' }), trust);
    assert.equal(byTag.status, 'found');
  });

  const refused: Array<[string, ScanArtifactLookupResult, typeof trust, RegExp]> = [
    [
      'signed by an unknown key',
      { ...found(DIGEST), artifact: signScanArtifact(artifact, generateSigningKey()) },
      trust,
      /UNKNOWN_KEY/,
    ],
    [
      'with a payload that was changed',
      {
        ...found(DIGEST),
        artifact: {
          ...signScanArtifact(artifact, key),
          payload: signScanArtifact({ ...artifact, findings: [] }, key).payload,
        },
      },
      trust,
      /BAD_SIGNATURE/,
    ],
    [
      'of another tenant',
      found(DIGEST),
      { ...trust, tenantId: '00000000-0000-4000-8000-000000000000' },
      /WRONG_TENANT/,
    ],
    ['of another digest', found(`sha256:${'cd'.repeat(32)}`), trust, /WRONG_IMAGE/],
    ['of another tag', found('ghcr.io/acme/api:9.9.9', { resolvedBy: 'TAG' }), trust, /WRONG_IMAGE/],
    ['of another repository', found('ghcr.io/acme/web:2.3.1', { resolvedBy: 'TAG' }), trust, /WRONG_IMAGE/],
  ];
  for (const [what, result, t, reason] of refused) {
    it(`an artifact ${what} is a failed lookup, never found`, () => {
      const r = artifactLookupOf(result, t);
      assert.equal(r.status, 'lookup-failed');
      assert.match((r as { error: string }).error, reason);
    });
  }

  it('a failed lookup is what onLookupFailure decides: DENY denies, ALLOW lets it through', () => {
    const image = `ghcr.io/acme/api@${DIGEST}`;
    const lookup: ArtifactLookup = artifactLookupOf(
      found(image, { artifact: signScanArtifact(artifact, generateSigningKey()) }),
      trust,
    );
    const policy = (onLookupFailure: string): Policy => {
      const v = validateRuleParams('vulnerability-assessment-required', { onLookupFailure });
      assert.ok(v.ok);
      return {
        id: 'p',
        name: 'gate',
        type: 'VULNERABILITY',
        action: 'BLOCK',
        namespaces: { include: [], exclude: [] },
        rules: [{ id: 'vulnerability-assessment-required', params: v.params }],
        exemptions: [],
      };
    };
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'x' },
      spec: { containers: [{ name: 'c', image }] },
    };
    const run = (p: Policy) =>
      evaluatePolicies(pod, compilePolicies([p]), {
        defaultNamespace: 'default',
        now: new Date('2026-11-21T00:00:00Z'),
        scanArtifacts: () => lookup,
      });
    const denied = run(policy('DENY'));
    assert.equal(denied.decision, 'deny');
    assert.equal(denied.violations[0]!.reason, 'LOOKUP_FAILED');
    assert.equal(run(policy('ALLOW')).decision, 'allow');
  });
});
