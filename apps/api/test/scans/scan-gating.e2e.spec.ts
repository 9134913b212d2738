/**
 * Vulnerability gating through the real API, with the real Trivy reports: a CI token
 * uploads, the agent endpoint answers with signed artifacts that verify with the JWKS
 * keys, and the engine decides on them (as the agent will, through the same mapping).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { fromJwks, verifyScanArtifact, type PublicKeySet } from '@portcullis/bundle';
import {
  artifactLookupOf,
  validateScanArtifactLookupResponse,
  type ScanArtifactLookupResponse,
} from '@portcullis/contracts';
import {
  compilePolicies,
  evaluatePolicies,
  validateRuleParams,
  type ArtifactLookup,
  type Exemption,
  type Policy,
} from '@portcullis/policy-engine';
import {
  NO_DB_REASON,
  NO_SCANS,
  createUploadToken,
  lookupScanArtifacts as lookup,
  readReport,
  registerCluster,
  scansPresent,
  startApi,
  testDatabaseConfigured,
  uploadScanReport as upload,
  type ApiHarness,
} from '@portcullis/testing';

const ALPINE_DIGEST = 'sha256:b1c5a500182b21d0bfa5a584a8526b56d8be316f89e87d951be04abed2446e60';
// debian-buster.json is a local scan (no RepoDigests); this is the digest a registry scan of it records
const BUSTER_DIGEST = `sha256:${'3b'.repeat(32)}`;
const BUSTER_REPO = 'ghcr.io/aquasecurity/trivy-test-images';

const skip = !testDatabaseConfigured ? NO_DB_REASON : !scansPresent ? NO_SCANS : false;

/** The real debian-buster report as Trivy writes it when it scans from the registry: with RepoDigests. */
function busterFromRegistry(): Buffer {
  const report = JSON.parse(readReport('trivy', 'debian-buster.json').toString('utf8')) as {
    Metadata: Record<string, unknown>;
  };
  report.Metadata['RepoDigests'] = [`${BUSTER_REPO}@${BUSTER_DIGEST}`];
  return Buffer.from(JSON.stringify(report));
}

const rule = (id: string, params: Record<string, unknown> = {}) => {
  const v = validateRuleParams(id, params);
  assert.ok(v.ok, JSON.stringify(v));
  return { id, params: v.params };
};
const blockPolicy = (rules: Policy['rules'], exemptions: Exemption[] = []): Policy => ({
  id: 'p-vuln',
  name: 'block criticals',
  type: 'VULNERABILITY',
  action: 'BLOCK',
  namespaces: { include: [], exclude: [] },
  rules,
  exemptions,
});
const pod = (image: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'api', namespace: 'payments' },
  spec: { containers: [{ name: 'api', image }] },
});

describe('vulnerability gating over HTTP (real Trivy reports)', { skip }, () => {
  let h: ApiHarness;
  let keysDir: string;
  let tenant: { tenantId: string; ownerToken: string };
  let agent: { clusterId: string; agentToken: string };
  let ci: { id: string; token: string };
  let trusted: PublicKeySet;

  before(async () => {
    keysDir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-scan-keys-'));
    h = await startApi({ BUNDLE_SIGNING_KEYS_DIR: keysDir, SCAN_REPORT_MAX_BYTES: '400000' });
    tenant = await h.onboard('scan gating');
    agent = await registerCluster(h, tenant.ownerToken, 'gated');
    ci = await createUploadToken(h, tenant.ownerToken, 'release pipeline');
    trusted = fromJwks((await h.http().get('/.well-known/jwks.json').expect(200)).body);
  });
  after(async () => {
    await h?.close();
    fs.rmSync(keysDir, { recursive: true, force: true });
  });

  /** Asks the agent endpoint as the agent does and maps every answer the way the agent will. */
  async function resolve(images: string[]): Promise<Map<string, ArtifactLookup>> {
    const res = await lookup(h, agent.agentToken, images).expect(200);
    const checked = validateScanArtifactLookupResponse(res.body, { images });
    assert.ok(checked.ok, JSON.stringify(checked));
    return new Map(
      checked.value.results.map((r) => [
        r.image,
        artifactLookupOf(r, { trustedKeys: trusted, tenantId: tenant.tenantId }),
      ]),
    );
  }

  const evaluate = (policy: Policy, image: string, found: Map<string, ArtifactLookup>) =>
    evaluatePolicies(pod(image), compilePolicies([policy]), {
      defaultNamespace: 'default',
      now: new Date(),
      scanArtifacts: (i) => found.get(i) ?? { status: 'lookup-failed', error: `not asked: ${i}` },
    });

  it('uploads a Trivy report with a CI token: 201, normalised counts, nothing else needed', async () => {
    const res = await upload(h, ci.token, readReport('trivy', 'alpine-310-registry.json'));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const a = res.body.artifact;
    assert.equal(res.body.created, true);
    assert.deepEqual(
      [a.repository, a.tags, a.repoDigest, a.tagBound, a.scanner.name, a.scannedAt, a.vulnerabilities, a.findings],
      [
        'docker.io/library/alpine',
        ['3.10'],
        ALPINE_DIGEST,
        false,
        'trivy',
        '2021-08-25T12:20:30.000Z',
        { critical: 0, high: 0, medium: 2, low: 0, unknown: 0 },
        4,
      ],
    );
  });

  it('the same report again changes nothing (200, same artifact), however it is encoded', async () => {
    const raw = readReport('trivy', 'alpine-310-registry.json');
    const first = await upload(h, ci.token, raw).expect(200);
    assert.equal(first.body.created, false);
    const pretty = Buffer.from(JSON.stringify(JSON.parse(raw.toString('utf8')), null, 4));
    const again = await upload(h, ci.token, pretty).expect(200);
    const gz = await upload(h, ci.token, gzipSync(raw), { 'Content-Encoding': 'gzip' }).expect(200);
    assert.equal(again.body.artifact.id, first.body.artifact.id);
    assert.equal(gz.body.artifact.id, first.body.artifact.id);
    assert.equal(
      await h.prisma.scanArtifact.count({ where: { tenantId: tenant.tenantId, repoDigest: ALPINE_DIGEST } }),
      1,
    );
  });

  it('lookup by digest returns the signed artifact, and it verifies with the JWKS keys', async () => {
    const images = [`docker.io/library/alpine@${ALPINE_DIGEST}`, ALPINE_DIGEST, 'alpine:3.10', 'alpine:3.11'];
    const res = await lookup(h, agent.agentToken, images).expect(200);
    const body = res.body as ScanArtifactLookupResponse;
    assert.ok(validateScanArtifactLookupResponse(body, { images }).ok);
    assert.deepEqual(
      body.results.map((r) => [r.image, r.status, r.resolvedBy, r.digest]),
      [
        [images[0], 'FOUND', 'DIGEST', ALPINE_DIGEST],
        [images[1], 'FOUND', 'DIGEST', ALPINE_DIGEST],
        // a tag resolves to the newest digest reported for it, and the answer says so
        [images[2], 'FOUND', 'TAG', ALPINE_DIGEST],
        [images[3], 'NOT_FOUND', undefined, undefined],
      ],
    );
    const v = verifyScanArtifact(body.results[0]!.artifact, {
      trustedKeys: trusted,
      tenantId: tenant.tenantId,
      image: { repository: 'docker.io/library/alpine', repoDigest: ALPINE_DIGEST, tag: '3.10' },
    });
    assert.ok(v.ok, JSON.stringify(v));
    assert.equal(v.artifact.findings.length, 4);
    assert.deepEqual(
      v.artifact.findings.map((f) => `${f.id}/${f.packageName}`),
      [
        'CVE-2019-1549/libcrypto1.1',
        'CVE-2019-1551/libcrypto1.1',
        'CVE-2019-1549/libssl1.1',
        'CVE-2019-1551/libssl1.1',
      ],
    );
  });

  it('a BLOCK policy with maxCritical 0 denies the image by digest, naming its CVE and the count against the threshold', async () => {
    await upload(h, ci.token, busterFromRegistry()).expect(201);
    const image = `${BUSTER_REPO}@${BUSTER_DIGEST}`;
    const found = await resolve([image]);
    assert.equal(found.get(image)!.status, 'found');
    const r = evaluate(blockPolicy([rule('vulnerability-severity', { maxCritical: 0 })]), image, found);
    assert.equal(r.decision, 'deny');
    assert.equal(r.violations.length, 1);
    const v = r.violations[0]!;
    assert.deepEqual(
      [v.rule, v.reason, v.count, v.threshold, v.cves, v.image, v.exempted],
      ['vulnerability-severity', 'OVER_THRESHOLD', 1, 0, ['CVE-2019-18224'], image, false],
    );
    assert.match(v.message, /has 1 critical vulnerabilities \(max 0\), worst: CVE-2019-18224/);
    assert.ok(v.message.includes(image));
  });

  it('a CVE exemption covering them makes it allowed (still reported, as exempted)', async () => {
    const image = `${BUSTER_REPO}@${BUSTER_DIGEST}`;
    const found = await resolve([image]);
    const exemption: Exemption = {
      id: 'ex-1',
      cves: ['CVE-2019-18224'],
      match: 'EQUALS',
      reason: 'libidn2 not reachable',
      grantedBy: 'secops',
    };
    const r = evaluate(blockPolicy([rule('vulnerability-severity', { maxCritical: 0 })], [exemption]), image, found);
    assert.equal(r.decision, 'allow');
    assert.deepEqual(
      r.violations.map((x) => [x.exempted, x.exemptionId, x.cves]),
      [[true, 'ex-1', ['CVE-2019-18224']]],
    );
  });

  it('the real tag-bound report gates the image by tag (resolvedBy TAG)', async () => {
    await upload(h, ci.token, readReport('trivy', 'photon-30.json')).expect(201);
    const image = `${BUSTER_REPO}:photon-30`;
    const res = await lookup(h, agent.agentToken, [image]).expect(200);
    assert.deepEqual(
      [res.body.results[0].status, res.body.results[0].resolvedBy, res.body.results[0].digest],
      ['FOUND', 'TAG', undefined],
    );
    const r = evaluate(
      blockPolicy([rule('vulnerability-severity', { maxCritical: 0, maxHigh: 0 })]),
      image,
      await resolve([image]),
    );
    assert.equal(r.decision, 'deny');
    // CVE-2019-5481 is in curl and curl-libs: it counts once
    assert.deepEqual(
      r.violations.map((v) => [v.count, v.threshold, v.cves]),
      [
        [1, 0, ['CVE-2019-5481']],
        [1, 0, ['CVE-2019-18276']],
      ],
    );
  });

  it('an image with no report under vulnerability-assessment-required is denied with "no vulnerability assessment"', async () => {
    const image = 'ghcr.io/acme/never-scanned:1.0';
    const found = await resolve([image]);
    assert.deepEqual(found.get(image), { status: 'not-found' });
    const r = evaluate(blockPolicy([rule('vulnerability-assessment-required')]), image, found);
    assert.equal(r.decision, 'deny');
    assert.equal(r.violations[0]!.reason, 'NO_ARTIFACT');
    assert.match(r.violations[0]!.message, /has no vulnerability assessment/);
  });

  it('refuses what is not a usable report with 400 naming why, and stores nothing', async () => {
    const before = await h.prisma.scanArtifact.count({ where: { tenantId: tenant.tenantId } });
    const sarif = await upload(h, ci.token, readReport('trivy', 'alpine-310.sarif.json')).expect(400);
    assert.equal(sarif.body.code, 'BAD_USER_INPUT');
    assert.match(sarif.body.message, /unknown report format \(UNKNOWN_FORMAT\): SARIF is not read/);
    const noIdentity = await upload(h, ci.token, readReport('grype', 'grype-TestJsonImgsPresenter.json')).expect(400);
    assert.match(noIdentity.body.message, /NO_IMAGE_IDENTITY/);
    assert.equal(noIdentity.body.field, 'source.target');
    const broken = await upload(h, ci.token, '{"SchemaVersion": 2, "Results": [').expect(400);
    assert.match(broken.body.message, /malformed report \(MALFORMED\): the report is not valid JSON/);
    const badField = await upload(
      h,
      ci.token,
      JSON.stringify({
        SchemaVersion: 2,
        ArtifactType: 'container_image',
        Metadata: { RepoTags: ['a/b:1'] },
        Results: [{ Vulnerabilities: [{ VulnerabilityID: 'CVE-1', PkgName: 'p', Severity: 7 }] }],
      }),
    ).expect(400);
    assert.equal(badField.body.field, 'Results[0].Vulnerabilities[0].Severity');
    const empty = await upload(h, ci.token, '').expect(400);
    assert.equal(empty.body.code, 'BAD_USER_INPUT');
    assert.equal(await h.prisma.scanArtifact.count({ where: { tenantId: tenant.tenantId } }), before);
  });

  it('a report over SCAN_REPORT_MAX_BYTES is a 413 naming the limit', async () => {
    const res = await upload(h, ci.token, readReport('grype', 'defectdojo-many_vulns3.json'));
    assert.equal(res.status, 413, JSON.stringify(res.body));
    assert.deepEqual([res.body.code, res.body.limit], ['PAYLOAD_TOO_LARGE', 400000], JSON.stringify(res.body));
    assert.match(res.body.message, /larger than the limit of 400000 bytes/);
    // a gzip bomb is measured inflated
    const bomb = gzipSync(Buffer.alloc(1_000_000, 0x20));
    assert.ok(bomb.length < 400000);
    await upload(h, ci.token, bomb, { 'Content-Encoding': 'gzip' }).expect(413);
  });

  it('a Grype report with a repo digest is gated by digest too', async () => {
    const raw = readReport('grype', 'defectdojo-issue_9618.json');
    const res = await upload(h, ci.token, raw).expect(201);
    // distinct ids by the worst severity each is reported with, counted here from the raw JSON
    const rank: Record<string, number> = { Critical: 0, High: 1, Medium: 2, Low: 3, Negligible: 3 };
    const worst = new Map<string, number>();
    for (const m of (
      JSON.parse(raw.toString('utf8')) as { matches: Array<{ vulnerability: { id: string; severity?: string } }> }
    ).matches) {
      const r = rank[m.vulnerability.severity ?? ''] ?? 4;
      worst.set(m.vulnerability.id, Math.min(worst.get(m.vulnerability.id) ?? 9, r));
    }
    const n = (r: number) => [...worst.values()].filter((x) => x === r).length;
    assert.deepEqual(res.body.artifact.vulnerabilities, {
      critical: n(0),
      high: n(1),
      medium: n(2),
      low: n(3),
      unknown: n(4),
    });
    assert.equal(res.body.artifact.findings, 35);
    const image = `quay.io/cloudservices/xjoin-kafka-connect-strimzi@${res.body.artifact.repoDigest}`;
    const r = evaluate(
      blockPolicy([rule('vulnerability-severity', { maxCritical: 0 })]),
      image,
      await resolve([image]),
    );
    assert.equal(r.decision, 'deny');
  });
});
