import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  generateSigningKey,
  signScanArtifact,
  verifyScanArtifact,
  type ScanArtifactDocument,
} from '@portcullis/bundle';
import {
  MAX_LOOKUP_IMAGES,
  validateScanArtifactDocument,
  validateScanArtifactLookupRequest,
  validateScanArtifactLookupResponse,
  type ScanArtifactLookupResponse,
} from '@portcullis/contracts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const artifact: ScanArtifactDocument = {
  schemaVersion: 1,
  tenantId: '3f2b8c1e-7d4a-4e2b-9c1d-5a6b7c8d9e0f',
  repository: 'ghcr.io/acme/api',
  tags: ['2.3.1'],
  repoDigest: DIGEST,
  tagBound: false,
  scanner: { name: 'grype', version: '0.86.1' },
  scannedAt: '2025-05-30T08:00:00Z',
  findings: [
    {
      id: 'GHSA-xxxx-yyyy-zzzz',
      severity: 'MEDIUM',
      cvss: 5.3,
      packageName: 'lodash',
      installedVersion: '4.17.20',
      fixedVersion: '4.17.21',
    },
  ],
};

describe('ScanArtifactLookupRequest', () => {
  it('accepts digests and references as Kubernetes writes them', () => {
    const images = [
      DIGEST,
      'nginx',
      'nginx:1.27',
      'docker.io/library/nginx:1.27',
      `ghcr.io/acme/api:2.3.1@${DIGEST}`,
      `ghcr.io/acme/api@${DIGEST}`,
      'localhost:5000/team/app_x:v1.0-rc.1',
      'mcr.microsoft.com/dotnet/aspnet:8.0',
    ];
    const r = validateScanArtifactLookupRequest({ images });
    assert.ok(r.ok, JSON.stringify(r));
  });

  const bad: Array<[string, unknown, string, RegExp]> = [
    ['no images', { images: [] }, 'images', /at least 1/],
    [
      `more than ${MAX_LOOKUP_IMAGES} images`,
      { images: Array(MAX_LOOKUP_IMAGES + 1).fill('nginx') },
      'images',
      /at most 200/,
    ],
    ['an uppercase repository', { images: ['nginx', 'Nginx:1'] }, 'images[1]', /is not an image digest or reference/],
    ['a space', { images: ['nginx :1'] }, 'images[0]', /is not an image/],
    ['a short digest', { images: ['nginx@sha256:abc'] }, 'images[0]', /is not an image/],
    ['a 513-character reference', { images: [`a/${'b'.repeat(511)}`] }, 'images[0]', /at most 512/],
  ];
  for (const [what, value, path, message] of bad) {
    it(`refuses ${what}, naming ${path}`, () => {
      const r = validateScanArtifactLookupRequest(value);
      assert.ok(!r.ok && r.errors[0]!.path === path && message.test(r.errors[0]!.message), JSON.stringify(r));
    });
  }
});

describe('ScanArtifactLookupResponse', () => {
  const key = generateSigningKey();
  const envelope = signScanArtifact(artifact, key);
  const response: ScanArtifactLookupResponse = {
    results: [
      {
        image: `ghcr.io/acme/api@${DIGEST}`,
        status: 'FOUND',
        resolvedBy: 'DIGEST',
        digest: DIGEST,
        artifact: envelope,
      },
      { image: 'ghcr.io/acme/api:2.3.1', status: 'FOUND', resolvedBy: 'TAG', digest: DIGEST, artifact: envelope },
      { image: 'nginx:1.27', status: 'NOT_FOUND' },
    ],
  };
  const request = { images: response.results.map((r) => r.image) };

  it('accepts found-by-digest, found-by-tag and not-found answers whose artifact verifies', () => {
    const r = validateScanArtifactLookupResponse(JSON.parse(JSON.stringify(response)), request);
    assert.ok(r.ok, JSON.stringify(r));
    const verified = verifyScanArtifact(r.value.results[1]!.artifact, {
      trustedKeys: [key],
      image: { repository: 'ghcr.io/acme/api', tag: '2.3.1' },
    });
    assert.ok(verified.ok);
  });

  const bad: Array<[string, ScanArtifactLookupResponse['results'][number], string, RegExp]> = [
    [
      'FOUND without an artifact',
      { image: 'nginx', status: 'FOUND', resolvedBy: 'TAG' },
      'results[0].artifact',
      /is required when status is FOUND/,
    ],
    [
      'FOUND without resolvedBy',
      { image: 'nginx', status: 'FOUND', artifact: envelope },
      'results[0].resolvedBy',
      /is required/,
    ],
    [
      'NOT_FOUND with an artifact',
      { image: 'nginx', status: 'NOT_FOUND', artifact: envelope },
      'results[0].status',
      /is NOT_FOUND but/,
    ],
    [
      'an envelope with a padded payload',
      {
        image: 'nginx',
        status: 'FOUND',
        resolvedBy: 'TAG',
        artifact: { ...envelope, payload: `${envelope.payload}=` },
      },
      'results[0].artifact.payload',
      /base64url/,
    ],
  ];
  for (const [what, result, path, message] of bad) {
    it(`refuses ${what}`, () => {
      const r = validateScanArtifactLookupResponse({ results: [result] });
      assert.ok(!r.ok && r.errors[0]!.path === path && message.test(r.errors[0]!.message), JSON.stringify(r));
    });
  }

  it('refuses an answer that does not match the request image by image', () => {
    const swapped = { results: [response.results[1], response.results[0], response.results[2]] };
    const r = validateScanArtifactLookupResponse(swapped, request);
    assert.ok(!r.ok);
    assert.deepEqual(
      r.errors.map((e) => e.path),
      ['results[0].image', 'results[1].image'],
    );
    const short = validateScanArtifactLookupResponse({ results: response.results.slice(0, 2) }, request);
    assert.ok(
      !short.ok && short.errors[0]!.path === 'results' && /has 2 entries for 3 images/.test(short.errors[0]!.message),
    );
  });
});

describe('ScanArtifactDocument', () => {
  it('is the schema agents verify against (one definition, in @portcullis/bundle)', () => {
    assert.ok(validateScanArtifactDocument(artifact).ok);
    const r = validateScanArtifactDocument({
      ...artifact,
      findings: [{ ...artifact.findings[0], severity: 'critical' }],
    });
    assert.ok(!r.ok && r.errors[0]!.path === 'findings[0].severity', JSON.stringify(r));
    const unbound = validateScanArtifactDocument({ ...artifact, repoDigest: undefined });
    assert.ok(!unbound.ok && unbound.errors[0]!.path === 'tagBound');
  });
});
