import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '@portcullis/config';
import { parseScanReport, type NormalizedScanReport } from '@portcullis/scan-reports';

/** The real Trivy and Grype reports beside the repository (read, never copied in). */
const SCANS = path.resolve(repoRoot(), '..', 'shared', 'fixtures', 'scans');
const present = fs.existsSync(SCANS);
const skip = present ? false : '../shared/fixtures/scans is not beside this clone';

type Counts = Record<string, number>;
const read = (dir: string, file: string): unknown => JSON.parse(fs.readFileSync(path.join(SCANS, dir, file), 'utf8'));
const jsonFiles = (dir: string) =>
  present
    ? fs
        .readdirSync(path.join(SCANS, dir))
        .filter((f) => f.endsWith('.json'))
        .sort()
    : [];

function normalized(dir: string, file: string): NormalizedScanReport {
  const r = parseScanReport(fs.readFileSync(path.join(SCANS, dir, file)));
  assert.ok(r.ok, `${file}: ${JSON.stringify(r)}`);
  return r.report;
}

function countsOf(report: NormalizedScanReport): { perEntry: Counts; unique: number } {
  const perEntry: Counts = {};
  for (const f of report.findings) perEntry[f.severity] = (perEntry[f.severity] ?? 0) + 1;
  return { perEntry, unique: new Set(report.findings.map((f) => f.id)).size };
}

/** Counted straight from the raw JSON, without the normaliser: Results[].Vulnerabilities[].Severity. */
function trivyRawCounts(raw: unknown): { perEntry: Counts; unique: number } {
  const perEntry: Counts = {};
  const ids = new Set<string>();
  for (const result of (
    raw as { Results?: Array<{ Vulnerabilities?: Array<{ VulnerabilityID: string; Severity: string }> }> }
  ).Results ?? []) {
    for (const v of result.Vulnerabilities ?? []) {
      perEntry[v.Severity] = (perEntry[v.Severity] ?? 0) + 1;
      ids.add(v.VulnerabilityID);
    }
  }
  return { perEntry, unique: ids.size };
}

/** Grype's words, with the mapping the normaliser documents: Negligible counts as LOW, no severity as UNKNOWN. */
function grypeRawCounts(raw: unknown): { perEntry: Counts; unique: number } {
  const word: Record<string, string> = {
    Critical: 'CRITICAL',
    High: 'HIGH',
    Medium: 'MEDIUM',
    Low: 'LOW',
    Negligible: 'LOW',
    Unknown: 'UNKNOWN',
  };
  const perEntry: Counts = {};
  const ids = new Set<string>();
  for (const m of (raw as { matches: Array<{ vulnerability: { id: string; severity?: string } }> }).matches) {
    const s = word[m.vulnerability.severity ?? 'Unknown']!;
    perEntry[s] = (perEntry[s] ?? 0) + 1;
    ids.add(m.vulnerability.id);
  }
  return { perEntry, unique: ids.size };
}

describe('real Trivy reports (../shared/fixtures/scans/trivy)', { skip }, () => {
  for (const file of jsonFiles('trivy').filter((f) => !f.includes('sarif') && !f.includes('cyclonedx'))) {
    it(`${file}: normalised severity counts equal the report's, per entry and per distinct CVE`, () => {
      assert.deepEqual(countsOf(normalized('trivy', file)), trivyRawCounts(read('trivy', file)));
    });
  }

  it('matches the counts the fixtures README states', () => {
    const expected: Record<string, Counts> = {
      'alpine-310.json': { MEDIUM: 4 },
      'alpine-310-registry.json': { MEDIUM: 4 },
      'centos-7.json': { MEDIUM: 1, LOW: 2 },
      'debian-buster.json': { CRITICAL: 1, LOW: 1 },
      'photon-30.json': { CRITICAL: 2, HIGH: 1 },
      'distroless-base.json': { MEDIUM: 2, LOW: 2 },
      'sl-micro-rancher5.4.json': {},
      'defectdojo-scheme_2_many_vulns.json': { CRITICAL: 1, HIGH: 1, MEDIUM: 3 },
    };
    for (const [file, counts] of Object.entries(expected))
      assert.deepEqual(countsOf(normalized('trivy', file)).perEntry, counts, file);
    assert.equal(countsOf(normalized('trivy', 'photon-30.json')).unique, 2);
  });

  it('identifies the registry scan by its repo digest, the others by tag (tag-bound)', () => {
    const registry = normalized('trivy', 'alpine-310-registry.json');
    assert.deepEqual(
      {
        repository: registry.repository,
        tags: registry.tags,
        repoDigest: registry.repoDigest,
        tagBound: registry.tagBound,
        imageId: registry.imageId,
      },
      {
        repository: 'docker.io/library/alpine',
        tags: ['3.10'],
        repoDigest: 'sha256:b1c5a500182b21d0bfa5a584a8526b56d8be316f89e87d951be04abed2446e60',
        tagBound: false,
        imageId: 'sha256:961769676411f082461f9ef46626dd7a2d1e2b2a38e6a44364bcbecf51e66dd4',
      },
    );
    const local = normalized('trivy', 'alpine-310.json');
    assert.deepEqual(
      [local.repository, local.tags, local.repoDigest, local.tagBound, local.scanner],
      ['ghcr.io/aquasecurity/trivy-test-images', ['alpine-310'], undefined, true, { name: 'trivy', version: 'dev' }],
    );
    assert.equal(local.scannedAt, '2021-08-25T12:20:30.000Z');
  });

  it('keeps package, versions and CVSS of each finding; no fixed version when Trivy has none', () => {
    const centos = normalized('trivy', 'centos-7.json');
    assert.deepEqual(centos.findings, [
      { id: 'CVE-2019-18276', severity: 'LOW', cvss: 7.8, packageName: 'bash', installedVersion: '4.2.46-31.el7' },
      {
        id: 'CVE-2019-1559',
        severity: 'MEDIUM',
        cvss: 5.9,
        packageName: 'openssl-libs',
        installedVersion: '1:1.0.2k-16.el7',
        fixedVersion: '1:1.0.2k-19.el7',
      },
      {
        id: 'CVE-2018-0734',
        severity: 'LOW',
        cvss: 5.1,
        packageName: 'openssl-libs',
        installedVersion: '1:1.0.2k-16.el7',
        fixedVersion: '1:1.0.2k-19.el7',
      },
    ]);
  });

  it('a report without CreatedAt has no scan time (the server supplies the upload time)', () => {
    assert.equal(normalized('trivy', 'defectdojo-scheme_2_many_vulns.json').scannedAt, undefined);
  });

  it('refuses SARIF as an unknown format, and the vulnerabilities-only CycloneDX for want of an image identity', () => {
    const sarif = parseScanReport(fs.readFileSync(path.join(SCANS, 'trivy', 'alpine-310.sarif.json')));
    assert.ok(!sarif.ok && sarif.reason === 'UNKNOWN_FORMAT' && /SARIF/.test(sarif.message), JSON.stringify(sarif));
    const cdx = parseScanReport(fs.readFileSync(path.join(SCANS, 'trivy', 'centos-7-cyclonedx.json')));
    assert.ok(!cdx.ok && cdx.reason === 'NO_IMAGE_IDENTITY' && cdx.path === 'metadata.component', JSON.stringify(cdx));
  });
});

describe('real Grype reports (../shared/fixtures/scans/grype)', { skip }, () => {
  const images = jsonFiles('grype').filter((f) => f.startsWith('defectdojo-'));
  for (const file of images) {
    it(`${file}: normalised severity counts equal the report's, per match and per distinct id`, () => {
      assert.deepEqual(countsOf(normalized('grype', file)), grypeRawCounts(read('grype', file)));
    });
  }

  it('matches the counts the fixtures README states (Negligible as LOW, a match without severity as UNKNOWN)', () => {
    assert.deepEqual(countsOf(normalized('grype', 'defectdojo-issue_9618.json')), {
      perEntry: { CRITICAL: 1, HIGH: 18, MEDIUM: 13, LOW: 2, UNKNOWN: 1 },
      unique: 19,
    });
    assert.deepEqual(countsOf(normalized('grype', 'defectdojo-many_vulns3.json')), {
      perEntry: { CRITICAL: 5, HIGH: 24, MEDIUM: 155, LOW: 27 + 106, UNKNOWN: 10 },
      unique: 259,
    });
    assert.deepEqual(countsOf(normalized('grype', 'defectdojo-many_vulns_with_epss_values.json')).perEntry, {
      CRITICAL: 1,
      HIGH: 10,
      MEDIUM: 2,
      LOW: 2,
    });
    assert.equal(normalized('grype', 'defectdojo-no_vuln.json').findings.length, 0);
  });

  it('takes the repo digest from repoDigests, never from manifestDigest', () => {
    const busybox = normalized('grype', 'defectdojo-many_vulns_with_epss_values.json');
    assert.deepEqual(
      [busybox.repository, busybox.tags, busybox.repoDigest, busybox.tagBound],
      [
        'docker.io/library/busybox',
        ['1.32.1'],
        'sha256:ae39a6f5c07297d7ab64dbd4f82c77c874cc6a94cea29fdec309d0992574b4f7',
        false,
      ],
    );
    const old = normalized('grype', 'defectdojo-many_vulns3.json');
    assert.deepEqual(
      [old.repository, old.tags, old.repoDigest, old.tagBound, old.scanner.version],
      ['docker.io/defectdojo/defectdojo-django', ['1.13.1'], undefined, true, '0.7.0'],
    );
  });

  it('counts only fix state "fixed" as fixable', () => {
    const r = normalized('grype', 'defectdojo-issue_9618.json');
    assert.equal(r.findings.filter((f) => f.fixedVersion !== undefined).length, 23);
    assert.equal(r.scannedAt, '2024-02-22T18:46:26.372Z');
  });

  it('refuses the presenter snapshots: one has no image source, the other no tag or digest', () => {
    const empty = parseScanReport(fs.readFileSync(path.join(SCANS, 'grype', 'grype-TestEmptyJsonPresenter.json')));
    assert.ok(!empty.ok && empty.reason === 'NOT_AN_IMAGE' && empty.path === 'source.type', JSON.stringify(empty));
    const imgs = parseScanReport(fs.readFileSync(path.join(SCANS, 'grype', 'grype-TestJsonImgsPresenter.json')));
    assert.ok(
      !imgs.ok && imgs.reason === 'NO_IMAGE_IDENTITY' && /nothing identifies the image/.test(imgs.message),
      JSON.stringify(imgs),
    );
  });
});
