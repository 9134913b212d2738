import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { checkScanArtifactDocument } from '@portcullis/bundle';
import { repoPath } from '@portcullis/config';
import {
  MAX_FINDINGS,
  normalizeScanReport,
  parseScanReport,
  scanReportContentHash,
  toScanArtifactDocument,
  type NormalizedScanReport,
} from '@portcullis/scan-reports';

const DIGEST = `sha256:${'1f'.repeat(32)}`;

/** A minimal Trivy JSON report of one image, as `trivy image --format json` writes it. */
function trivy(
  over: { metadata?: Record<string, unknown>; vulns?: unknown[]; top?: Record<string, unknown> } = {},
): Record<string, unknown> {
  return {
    SchemaVersion: 2,
    CreatedAt: '2026-11-20T08:00:00.123456789Z',
    ArtifactName: 'ghcr.io/acme/api:2.3.1',
    ArtifactType: 'container_image',
    Trivy: { Version: '0.58.1' },
    Metadata: {
      RepoTags: ['ghcr.io/acme/api:2.3.1'],
      RepoDigests: [`ghcr.io/acme/api@${DIGEST}`],
      ImageID: `sha256:${'ab'.repeat(32)}`,
      ...over.metadata,
    },
    Results: [
      {
        Target: 'ghcr.io/acme/api:2.3.1 (debian 12.4)',
        Class: 'os-pkgs',
        Vulnerabilities: over.vulns ?? [
          {
            VulnerabilityID: 'CVE-2024-3094',
            PkgName: 'xz-utils',
            InstalledVersion: '5.6.0-1',
            FixedVersion: '5.6.1+really5.4.5-1',
            Severity: 'CRITICAL',
            SeveritySource: 'nvd',
            CVSS: { nvd: { V3Score: 10 } },
          },
          {
            VulnerabilityID: 'CVE-2023-44487',
            PkgName: 'nghttp2',
            InstalledVersion: '1.52.0-1',
            Severity: 'HIGH',
            CVSS: { redhat: { V3Score: 7.5 }, ghsa: { V3Score: 5.3 } },
          },
        ],
      },
    ],
    ...over.top,
  };
}

function ok(value: unknown): NormalizedScanReport {
  const r = normalizeScanReport(value);
  assert.ok(r.ok, JSON.stringify(r));
  return r.report;
}

function refused(value: unknown): { reason: string; message: string; path?: string } {
  const r = normalizeScanReport(value);
  assert.ok(!r.ok, `expected a refusal, got ${JSON.stringify(r).slice(0, 300)}`);
  return r;
}

describe('normalizeScanReport: Trivy JSON', () => {
  it('reads identity, scanner, time and findings', () => {
    const r = ok(trivy());
    assert.deepEqual(
      { ...r, warnings: undefined },
      {
        format: 'trivy',
        repository: 'ghcr.io/acme/api',
        tags: ['2.3.1'],
        repoDigest: DIGEST,
        imageId: `sha256:${'ab'.repeat(32)}`,
        tagBound: false,
        scanner: { name: 'trivy', version: '0.58.1' },
        scannedAt: '2026-11-20T08:00:00.123Z',
        findings: [
          {
            id: 'CVE-2024-3094',
            severity: 'CRITICAL',
            cvss: 10,
            packageName: 'xz-utils',
            installedVersion: '5.6.0-1',
            fixedVersion: '5.6.1+really5.4.5-1',
          },
          { id: 'CVE-2023-44487', severity: 'HIGH', cvss: 7.5, packageName: 'nghttp2', installedVersion: '1.52.0-1' },
        ],
        warnings: undefined,
      },
    );
  });

  it('refuses NUL and control characters in what the artifact keeps, naming the field (NUL was a server error)', () => {
    const nul = refused(trivy({ top: { Trivy: { Version: '0.58.1\u0000' } } }));
    assert.deepEqual([nul.reason, nul.path], ['MALFORMED', 'scanner.version']);
    assert.match(nul.message, /scanner\.version .*U\+0000 at index 6/);
    const control = refused(
      trivy({
        vulns: [
          { VulnerabilityID: 'CVE-2024-3094', PkgName: 'xz\u001butils', InstalledVersion: '5.6.0-1', Severity: 'HIGH' },
        ],
      }),
    );
    assert.deepEqual([control.reason, control.path], ['MALFORMED', 'findings[0].packageName']);
  });

  it('without a repo digest the artifact is tag-bound', () => {
    const r = ok(trivy({ metadata: { RepoDigests: [] } }));
    assert.deepEqual([r.repoDigest, r.tagBound, r.tags], [undefined, true, ['2.3.1']]);
  });

  it('normalises Docker Hub names as the runtime does', () => {
    const r = ok(trivy({ metadata: { RepoTags: ['nginx:1.27', 'nginx:latest'], RepoDigests: [`nginx@${DIGEST}`] } }));
    assert.deepEqual([r.repository, r.tags, r.repoDigest], ['docker.io/library/nginx', ['1.27', 'latest'], DIGEST]);
  });

  it('keeps one repository and warns about the others', () => {
    const r = ok(
      trivy({
        metadata: {
          RepoTags: ['ghcr.io/acme/api:2.3.1', 'acme.azurecr.io/api:2.3.1'],
          RepoDigests: [`ghcr.io/acme/api@${DIGEST}`],
        },
      }),
    );
    assert.deepEqual([r.repository, r.tags], ['ghcr.io/acme/api', ['2.3.1']]);
    assert.match(r.warnings.join('\n'), /also names acme\.azurecr\.io\/api/);
  });

  it('falls back to ArtifactName only when it names a tag or digest', () => {
    const byName = ok(trivy({ metadata: { RepoTags: null, RepoDigests: null } }));
    assert.deepEqual([byName.repository, byName.tags, byName.tagBound], ['ghcr.io/acme/api', ['2.3.1'], true]);
    const byDigest = ok(
      trivy({ metadata: { RepoTags: [], RepoDigests: [] }, top: { ArtifactName: `ghcr.io/acme/api@${DIGEST}` } }),
    );
    assert.deepEqual([byDigest.repoDigest, byDigest.tagBound, byDigest.tags], [DIGEST, false, []]);
    const tarball = refused(
      trivy({
        metadata: { RepoTags: [], RepoDigests: [] },
        top: { ArtifactName: 'testdata/fixtures/images/alpine-310.tar.gz' },
      }),
    );
    assert.equal(tarball.reason, 'NO_IMAGE_IDENTITY');
  });

  it('is idempotent by content: whitespace, key order and a re-parse give the same hash; a changed finding does not', () => {
    const a = trivy();
    const reverseKeys = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reverseKeys)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reverseKeys(x)]),
            )
          : v;
    const reordered = reverseKeys(a);
    assert.notEqual(JSON.stringify(reordered), JSON.stringify(a));
    const h = scanReportContentHash(ok(a));
    const viaText = parseScanReport(Buffer.from(`\uFEFF${JSON.stringify(a, null, 2)}\n`));
    assert.ok(viaText.ok);
    assert.equal(scanReportContentHash(viaText.report), h);
    assert.equal(scanReportContentHash(ok(reordered)), h);
    const changed = trivy({
      vulns: [{ VulnerabilityID: 'CVE-2024-3094', PkgName: 'xz-utils', InstalledVersion: '5.6.0-1', Severity: 'HIGH' }],
    });
    assert.notEqual(scanReportContentHash(ok(changed)), h);
  });

  it('an empty Vulnerabilities list, or none at all, is an image with no findings', () => {
    assert.equal(ok(trivy({ vulns: [] })).findings.length, 0);
    const noKey = trivy();
    (noKey['Results'] as Array<Record<string, unknown>>)[0] = { Target: 'x', Class: 'os-pkgs' };
    assert.equal(ok(noKey).findings.length, 0);
  });

  it('records an empty installed version as "unknown" and an unknown severity as UNKNOWN', () => {
    const r = ok(
      trivy({
        vulns: [
          {
            VulnerabilityID: 'GHSA-aaaa-bbbb-cccc',
            PkgName: 'static-binary',
            InstalledVersion: '',
            Severity: 'SEVERE',
          },
        ],
      }),
    );
    assert.deepEqual(r.findings, [
      { id: 'GHSA-aaaa-bbbb-cccc', severity: 'UNKNOWN', packageName: 'static-binary', installedVersion: 'unknown' },
    ]);
  });

  const malformed: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['Results not an array', trivy({ top: { Results: {} } }), 'Results', /not an array/],
    [
      'a vulnerability that is not an object',
      trivy({ vulns: ['CVE-1'] }),
      'Results[0].Vulnerabilities[0]',
      /not an object/,
    ],
    [
      'a missing VulnerabilityID',
      trivy({ vulns: [{ PkgName: 'p', InstalledVersion: '1', Severity: 'LOW' }] }),
      'Results[0].Vulnerabilities[0].VulnerabilityID',
      /missing or empty/,
    ],
    [
      'a numeric Severity',
      trivy({ vulns: [{ VulnerabilityID: 'CVE-1', PkgName: 'p', InstalledVersion: '1', Severity: 3 }] }),
      'Results[0].Vulnerabilities[0].Severity',
      /not a string/,
    ],
    [
      'a missing PkgName',
      trivy({ vulns: [{ VulnerabilityID: 'CVE-1', InstalledVersion: '1', Severity: 'LOW' }] }),
      'Results[0].Vulnerabilities[0].PkgName',
      /missing or empty/,
    ],
    [
      'a 200-character id',
      trivy({
        vulns: [{ VulnerabilityID: `CVE-${'9'.repeat(196)}`, PkgName: 'p', InstalledVersion: '1', Severity: 'LOW' }],
      }),
      'Results[0].Vulnerabilities[0].VulnerabilityID',
      /longer than 128/,
    ],
    [
      'a CreatedAt without a zone',
      trivy({ top: { CreatedAt: '2026-11-20T08:00:00' } }),
      'CreatedAt',
      /RFC 3339 timestamp with a zone/,
    ],
    ['a CreatedAt that is not a time', trivy({ top: { CreatedAt: 'yesterday' } }), 'CreatedAt', /not an RFC 3339/],
    ['schema version 1', trivy({ top: { SchemaVersion: 1 } }), 'SchemaVersion', /only Trivy JSON schema 2/],
    ['Metadata as a string', trivy({ top: { Metadata: 'image' } }), 'Metadata', /not an object/],
  ];
  for (const [what, value, path, message] of malformed) {
    it(`refuses ${what} as MALFORMED, naming ${path}`, () => {
      const r = refused(value);
      assert.deepEqual([r.reason, r.path], ['MALFORMED', path], r.message);
      assert.match(r.message, message);
      assert.ok(r.message.startsWith(`${path}: `), r.message);
    });
  }

  it('refuses a filesystem scan as NOT_AN_IMAGE', () => {
    const r = refused(trivy({ top: { ArtifactType: 'filesystem' } }));
    assert.deepEqual([r.reason, r.path], ['NOT_AN_IMAGE', 'ArtifactType']);
  });

  it(`refuses more than ${MAX_FINDINGS} findings as TOO_MANY_FINDINGS`, () => {
    const vulns = Array.from({ length: MAX_FINDINGS + 1 }, (_, i) => ({
      VulnerabilityID: `CVE-2024-${i}`,
      PkgName: 'p',
      InstalledVersion: '1',
      Severity: 'LOW',
    }));
    assert.equal(refused(trivy({ vulns })).reason, 'TOO_MANY_FINDINGS');
  });
});

describe('normalizeScanReport: Grype JSON', () => {
  const grype = (target: Record<string, unknown>, matches: unknown[] = []) => ({
    matches,
    source: { type: 'image', target },
    descriptor: { name: 'grype', version: '0.86.1', timestamp: '2026-11-20T09:00:00+01:00' },
  });
  const match = (
    vulnerability: Record<string, unknown>,
    artifact: Record<string, unknown> = { name: 'openssl', version: '3.0.11' },
  ) => ({ vulnerability, artifact, matchDetails: [] });

  it('reads severities, fix state, the newest primary CVSS and the related NVD score', () => {
    const r = ok(
      grype(
        {
          userInput: 'ghcr.io/acme/api:2.3.1',
          tags: ['ghcr.io/acme/api:2.3.1'],
          repoDigests: [`ghcr.io/acme/api@${DIGEST}`],
          manifestDigest: `sha256:${'cd'.repeat(32)}`,
        },
        [
          match({
            id: 'CVE-1',
            severity: 'Negligible',
            fix: { state: 'fixed', versions: ['3.0.13', '3.1.5'] },
            cvss: [
              { version: '2.0', type: 'Primary', metrics: { baseScore: 4.3 } },
              { version: '3.1', type: 'Secondary', metrics: { baseScore: 5.9 } },
              { version: '3.1', type: 'Primary', metrics: { baseScore: 7.5 } },
            ],
          }),
          {
            ...match({ id: 'CVE-2', fix: { state: 'wont-fix', versions: [] }, cvss: [] }),
            relatedVulnerabilities: [{ id: 'CVE-2', cvss: [{ version: '3.1', metrics: { baseScore: 9.1 } }] }],
          },
          match({
            id: 'GHSA-x',
            severity: 'Critical',
            cvssV3: { baseScore: 9.8 },
            fix: { state: 'not-fixed', versions: ['9'] },
          }),
        ],
      ),
    );
    assert.deepEqual(
      [r.repoDigest, r.scannedAt, r.scanner],
      [DIGEST, '2026-11-20T08:00:00.000Z', { name: 'grype', version: '0.86.1' }],
    );
    assert.deepEqual(r.findings, [
      {
        id: 'CVE-1',
        severity: 'LOW',
        cvss: 7.5,
        packageName: 'openssl',
        installedVersion: '3.0.11',
        fixedVersion: '3.0.13, 3.1.5',
      },
      { id: 'CVE-2', severity: 'UNKNOWN', cvss: 9.1, packageName: 'openssl', installedVersion: '3.0.11' },
      { id: 'GHSA-x', severity: 'CRITICAL', cvss: 9.8, packageName: 'openssl', installedVersion: '3.0.11' },
    ]);
  });

  it('names the match at fault', () => {
    const r = refused(
      grype({ tags: ['a/b:1'] }, [match({ id: 'CVE-1', severity: 'Low' }), { vulnerability: { id: 'CVE-2' } }]),
    );
    assert.deepEqual([r.reason, r.path], ['MALFORMED', 'matches[1].artifact']);
  });

  it('a directory scan is NOT_AN_IMAGE', () => {
    const r = refused({ matches: [], source: { type: 'directory', target: '/src' }, descriptor: { name: 'grype' } });
    assert.equal(r.reason, 'NOT_AN_IMAGE');
  });
});

describe('normalizeScanReport: CycloneDX', () => {
  const bom = (): unknown =>
    JSON.parse(
      fs.readFileSync(repoPath('libs', 'scan-reports', 'test', 'fixtures', 'trivy-cyclonedx-image.json'), 'utf8'),
    );

  it('reads Trivy image properties, the worst rating, the best v3 score and fixed versions', () => {
    const r = ok(bom());
    assert.deepEqual(
      [r.format, r.repository, r.tags, r.repoDigest, r.imageId, r.scanner, r.scannedAt],
      [
        'cyclonedx',
        'ghcr.io/acme/api',
        ['2.3.1', 'stable'],
        `sha256:1f6ab2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f`,
        `sha256:5e7f8a9b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d`,
        { name: 'trivy', version: '0.58.1' },
        '2026-11-20T08:15:00.000Z',
      ],
    );
    assert.deepEqual(r.findings, [
      {
        id: 'CVE-2023-5678',
        severity: 'MEDIUM',
        cvss: 5.3,
        packageName: 'openssl',
        installedVersion: '3.0.11-1~deb12u2',
        fixedVersion: '3.0.13-1~deb12u1',
      },
      {
        id: 'CVE-2022-42889',
        severity: 'CRITICAL',
        cvss: 9.8,
        packageName: 'org.apache.commons:commons-text',
        installedVersion: '1.9',
        fixedVersion: '1.10.0',
      },
      { id: 'CVE-2024-0727', severity: 'UNKNOWN', packageName: 'libssl3', installedVersion: '3.0.11-1~deb12u2' },
    ]);
  });

  it('uses the pkg:oci purl when the RepoDigest property is missing (the name is a fallback only when nothing else names the image)', () => {
    const doc = bom() as { metadata: { component: { properties: unknown[] } } };
    doc.metadata.component.properties = [];
    const r = ok(doc);
    assert.deepEqual(
      [r.repository, r.repoDigest, r.tags],
      ['ghcr.io/acme/api', 'sha256:1f6ab2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f', []],
    );
  });

  it('a BOM of an application is NOT_AN_IMAGE', () => {
    const doc = bom() as { metadata: { component: { type: string } } };
    doc.metadata.component.type = 'application';
    assert.equal(refused(doc).reason, 'NOT_AN_IMAGE');
  });
});

describe('parseScanReport: what is not a report', () => {
  const cases: Array<[string, string, string, RegExp]> = [
    ['an empty body', '  \n', 'MALFORMED', /empty/],
    ['truncated JSON', '{"SchemaVersion": 2, "Results": [', 'MALFORMED', /not valid JSON/],
    ['a JSON string', '"trivy"', 'UNKNOWN_FORMAT', /is not Trivy JSON/],
    [
      'some other JSON object',
      '{"name":"x","version":"1"}',
      'UNKNOWN_FORMAT',
      /is not Trivy JSON .*, Grype JSON .* or CycloneDX/,
    ],
    ['Trivy schema 1', '[{"Target":"x","Vulnerabilities":[]}]', 'UNKNOWN_FORMAT', /Trivy JSON schema 1/],
    ['SPDX', '{"spdxVersion":"SPDX-2.3","packages":[]}', 'UNKNOWN_FORMAT', /SPDX/],
  ];
  for (const [what, body, reason, message] of cases) {
    it(`refuses ${what} (${reason})`, () => {
      const r = parseScanReport(body);
      assert.ok(!r.ok);
      assert.equal(r.reason, reason);
      assert.match(r.message, message);
    });
  }
});

describe('toScanArtifactDocument', () => {
  it('gives a document the bundle schema accepts, with the upload time when the report has none', () => {
    const report = ok(trivy({ top: { CreatedAt: undefined } }));
    const doc = toScanArtifactDocument(
      report,
      '3f2b8c1e-7d4a-4e2b-9c1d-5a6b7c8d9e0f',
      new Date('2026-11-23T10:00:00Z'),
    );
    assert.equal(doc.scannedAt, '2026-11-23T10:00:00.000Z');
    assert.ok(checkScanArtifactDocument(doc).ok);
  });
});
