/**
 * CI upload tokens: shown once, hashed at rest, audited, revoked at once, good for
 * uploads only; artifacts stay inside their tenant; scanArtifacts for the portal.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  NO_DB_REASON,
  createUploadToken,
  lookupScanArtifacts as lookup,
  ok,
  onlyError,
  registerCluster,
  startApi,
  testDatabaseConfigured,
  uploadScanReport as upload,
  type ApiHarness,
} from '@portcullis/testing';

const DIGEST = `sha256:${'5a'.repeat(32)}`;

/** A small Trivy JSON report of one image, written here (the real ones are in scan-gating). */
function report(repo: string, tag: string, digest: string | undefined, vulns: Array<[string, string, string]>): string {
  return JSON.stringify({
    SchemaVersion: 2,
    CreatedAt: new Date().toISOString(),
    ArtifactName: `${repo}:${tag}`,
    ArtifactType: 'container_image',
    Metadata: { RepoTags: [`${repo}:${tag}`], RepoDigests: digest ? [`${repo}@${digest}`] : [] },
    Results: [
      {
        Target: 'os',
        Class: 'os-pkgs',
        Vulnerabilities: vulns.map(([id, sev, pkg]) => ({
          VulnerabilityID: id,
          Severity: sev,
          PkgName: pkg,
          InstalledVersion: '1.0',
          ...(sev === 'CRITICAL' ? { FixedVersion: '1.1' } : {}),
        })),
      },
    ],
  });
}

describe('scan upload tokens and scan artifacts', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let a: { tenantId: string; ownerToken: string };
  let b: { tenantId: string; ownerToken: string };
  let agentA: { agentToken: string };
  let agentB: { agentToken: string };
  let ciA: { id: string; token: string };

  before(async () => {
    h = await startApi();
    a = await h.onboard('scans A');
    b = await h.onboard('scans B');
    agentA = await registerCluster(h, a.ownerToken, 'a-cluster');
    agentB = await registerCluster(h, b.ownerToken, 'b-cluster');
    ciA = await createUploadToken(h, a.ownerToken, 'pipeline A');
  });
  after(async () => h?.close());

  it('the token is shown once, stored only as a hash, and its creation is audited without it', async () => {
    assert.match(ciA.token, /^pcs_[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/);
    const row = await h.prisma.scanUploadToken.findUniqueOrThrow({ where: { id: ciA.id } });
    const secret = ciA.token.split('.')[1]!;
    assert.equal(row.tokenId, ciA.token.slice(4, 36));
    assert.match(row.tokenHash, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(row).includes(secret));
    const log = await ok<{
      auditLog: { edges: Array<{ node: { action: string; targetId: string; after: unknown } }> };
    }>(
      h.gql(
        a.ownerToken,
        '{ auditLog(filter: { action: "scanUploadToken.create" }) { edges { node { action targetId after } } } }',
      ),
    );
    assert.equal(log.auditLog.edges.length, 1);
    assert.equal(log.auditLog.edges[0]!.node.targetId, ciA.id);
    assert.ok(!JSON.stringify(log).includes(secret));
    const listed = await ok<{ scanUploadTokens: { edges: Array<{ node: Record<string, unknown> }> } }>(
      h.gql(a.ownerToken, '{ scanUploadTokens { edges { node { id name revokedAt } } } }'),
    );
    assert.deepEqual(
      listed.scanUploadTokens.edges.map((e) => e.node),
      [{ id: ciA.id, name: 'pipeline A', revokedAt: null }],
    );
  });

  it('needs OWNER or SECURITY_ADMIN at tenant level; a name is required', async () => {
    const scopedAdmin = randomUUID();
    const scope = await ok<{ createCloudScope: { id: string } }>(
      h.gql(
        a.ownerToken,
        'mutation { createCloudScope(input: { provider: GCP_PROJECT, externalId: "scan-scope-1", displayName: "s" }) { id } }',
      ),
    );
    await ok(
      h.gql(a.ownerToken, 'mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }', {
        i: { principalId: scopedAdmin, role: 'SECURITY_ADMIN', cloudScopeId: scope.createCloudScope.id },
      }),
    );
    const e = onlyError(
      await h.gql(await h.token(a.tenantId, scopedAdmin), 'mutation { createScanUploadToken(name: "x") { token } }'),
    );
    assert.equal(e.code, 'FORBIDDEN');
    const tenantAdmin = randomUUID();
    await ok(
      h.gql(a.ownerToken, 'mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }', {
        i: { principalId: tenantAdmin, role: 'SECURITY_ADMIN' },
      }),
    );
    const made = await createUploadToken(h, await h.token(a.tenantId, tenantAdmin), 'by admin');
    assert.match(made.token, /^pcs_/);
    const blank = onlyError(await h.gql(a.ownerToken, 'mutation { createScanUploadToken(name: "   ") { token } }'));
    assert.deepEqual([blank.code, blank.field], ['BAD_USER_INPUT', 'name']);
  });

  it('a report whose scanner version holds NUL is a 400 naming the field, and nothing is stored (was a 500)', async () => {
    const before = await h.prisma.scanArtifact.count({ where: { tenantId: a.tenantId } });
    const body = JSON.parse(report('ghcr.io/acme/nul', '1.0', DIGEST, [])) as Record<string, unknown>;
    const res = await upload(h, ciA.token, JSON.stringify({ ...body, Trivy: { Version: '0.58\u00001' } }));
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.code, 'BAD_USER_INPUT');
    assert.equal(res.body.field, 'scanner.version');
    assert.equal(await h.prisma.scanArtifact.count({ where: { tenantId: a.tenantId } }), before);
  });

  it('uploads need an upload token: no token, a user token or an agent credential is refused', async () => {
    const body = report('ghcr.io/acme/api', '1.0', DIGEST, []);
    assert.equal((await upload(h, undefined, body).expect(401)).body.code, 'UNAUTHENTICATED');
    await upload(h, a.ownerToken, body).expect(401);
    await upload(h, agentA.agentToken, body).expect(401);
    await upload(h, `pcs_${'0'.repeat(32)}.${'A'.repeat(43)}`, body).expect(401);
  });

  it('an upload token opens nothing else: not the agent endpoints, not GraphQL', async () => {
    await lookup(h, ciA.token, [DIGEST]).expect(401);
    await h.http().get('/agent/v1/bundle').set('Authorization', `Bearer ${ciA.token}`).expect(401);
    const e = onlyError(await h.gql(ciA.token, '{ me { tenantId } }'));
    assert.equal(e.code, 'UNAUTHENTICATED');
  });

  it("artifacts stay in their tenant: another tenant's agent does not see them, its token uploads into its own", async () => {
    await upload(
      h,
      ciA.token,
      report('ghcr.io/acme/api', '1.0', DIGEST, [['CVE-2024-0001', 'CRITICAL', 'openssl']]),
    ).expect(201);
    const mine = await lookup(h, agentA.agentToken, [DIGEST, 'ghcr.io/acme/api:1.0']).expect(200);
    assert.deepEqual(
      mine.body.results.map((r: { status: string }) => r.status),
      ['FOUND', 'FOUND'],
    );
    const theirs = await lookup(h, agentB.agentToken, [DIGEST, 'ghcr.io/acme/api:1.0']).expect(200);
    assert.deepEqual(
      theirs.body.results.map((r: { status: string }) => r.status),
      ['NOT_FOUND', 'NOT_FOUND'],
    );
    const ciB = await createUploadToken(h, b.ownerToken);
    // the same report in tenant B is B's own artifact, not a duplicate of A's
    const inB = await upload(
      h,
      ciB.token,
      report('ghcr.io/acme/api', '1.0', DIGEST, [['CVE-2024-0001', 'CRITICAL', 'openssl']]),
    ).expect(201);
    assert.equal(inB.body.created, true);
    const listB = await ok<{ scanArtifacts: { totalCount: number } }>(
      h.gql(b.ownerToken, '{ scanArtifacts { totalCount } }'),
    );
    assert.equal(listB.scanArtifacts.totalCount, 1);
  });

  it('the same report uploaded concurrently is stored once', async () => {
    const body = report('ghcr.io/acme/race', '1', `sha256:${'9f'.repeat(32)}`, [['CVE-2024-0005', 'HIGH', 'curl']]);
    const answers = await Promise.all(Array.from({ length: 6 }, () => upload(h, ciA.token, body)));
    assert.deepEqual(answers.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 201]);
    assert.equal(new Set(answers.map((r) => r.body.artifact.id)).size, 1);
    assert.equal(
      await h.prisma.scanArtifact.count({ where: { tenantId: a.tenantId, repository: 'ghcr.io/acme/race' } }),
      1,
    );
  });

  it('a tag resolves to the newest digest reported for it', async () => {
    const older = `sha256:${'0d'.repeat(32)}`;
    const newer = `sha256:${'1e'.repeat(32)}`;
    const at = (iso: string, digest: string) => {
      const r = JSON.parse(report('ghcr.io/acme/web', 'stable', digest, [])) as Record<string, unknown>;
      r['CreatedAt'] = iso;
      return JSON.stringify(r);
    };
    await upload(h, ciA.token, at(new Date(Date.now() - 3_600_000).toISOString(), newer)).expect(201);
    await upload(h, ciA.token, at(new Date(Date.now() - 7_200_000).toISOString(), older)).expect(201);
    const res = await lookup(h, agentA.agentToken, ['ghcr.io/acme/web:stable', `ghcr.io/acme/web@${older}`]).expect(
      200,
    );
    assert.deepEqual(
      res.body.results.map((r: { resolvedBy: string; digest: string }) => [r.resolvedBy, r.digest]),
      [
        ['TAG', newer],
        ['DIGEST', older],
      ],
    );
  });

  it('lookups are bounded and validated', async () => {
    const tooMany = await lookup(
      h,
      agentA.agentToken,
      Array.from({ length: 201 }, (_, i) => `ghcr.io/acme/app:${i}`),
    ).expect(400);
    assert.equal(tooMany.body.field, 'images');
    const bad = await lookup(h, agentA.agentToken, ['nginx', 'Not An Image']).expect(400);
    assert.equal(bad.body.field, 'images[1]');
    const full = await lookup(
      h,
      agentA.agentToken,
      Array.from({ length: 200 }, (_, i) =>
        i % 2 ? `ghcr.io/acme/app:${i}` : `sha256:${i.toString(16).padStart(64, '0')}`,
      ),
    ).expect(200);
    assert.equal(full.body.results.length, 200);
  });

  it('scanArtifacts lists, filters and shows findings worst first to any reader of the tenant', async () => {
    const reader = randomUUID();
    await ok(
      h.gql(a.ownerToken, 'mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }', {
        i: { principalId: reader, role: 'SECURITY_READER' },
      }),
    );
    await upload(
      h,
      ciA.token,
      report('docker.io/library/redis', '7.2', undefined, [
        ['CVE-2024-0002', 'LOW', 'libc'],
        ['CVE-2024-0003', 'CRITICAL', 'redis'],
        ['CVE-2024-0003', 'CRITICAL', 'redis-tools'],
        ['CVE-2024-0004', 'HIGH', 'zlib'],
      ]),
    ).expect(201);
    const q = `query($f: ScanArtifactFilter) { scanArtifacts(filter: $f) { totalCount edges { node {
      repository tags repoDigest tagBound format scanner { name } vulnerabilities { critical high medium low unknown } findingsCount uploadedWith
      findings(first: 3) { id severity packageName fixedVersion } } } } }`;
    const got = await ok<{ scanArtifacts: { totalCount: number; edges: Array<{ node: Record<string, unknown> }> } }>(
      h.gql(await h.token(a.tenantId, reader), q, { f: { repository: 'docker.io/library/redis', tagBound: true } }),
    );
    assert.equal(got.scanArtifacts.totalCount, 1);
    assert.deepEqual(got.scanArtifacts.edges[0]!.node, {
      repository: 'docker.io/library/redis',
      tags: ['7.2'],
      repoDigest: null,
      tagBound: true,
      format: 'trivy',
      scanner: { name: 'trivy' },
      vulnerabilities: { critical: 1, high: 1, medium: 0, low: 1, unknown: 0 },
      findingsCount: 4,
      uploadedWith: 'pipeline A',
      findings: [
        { id: 'CVE-2024-0003', severity: 'CRITICAL', packageName: 'redis', fixedVersion: '1.1' },
        { id: 'CVE-2024-0003', severity: 'CRITICAL', packageName: 'redis-tools', fixedVersion: '1.1' },
        { id: 'CVE-2024-0004', severity: 'HIGH', packageName: 'zlib', fixedVersion: null },
      ],
    });
    const byDigest = await ok<{ scanArtifacts: { totalCount: number } }>(
      h.gql(a.ownerToken, q, { f: { digest: DIGEST } }),
    );
    assert.equal(byDigest.scanArtifacts.totalCount, 1);
    const contains = await ok<{ scanArtifacts: { totalCount: number } }>(
      h.gql(a.ownerToken, q, { f: { repository: 'acme', repositoryContains: true } }),
    );
    assert.equal(contains.scanArtifacts.totalCount, 4); // ghcr.io/acme/api, ghcr.io/acme/race and two of ghcr.io/acme/web
    const badDigest = onlyError(await h.gql(a.ownerToken, q, { f: { digest: 'sha256:abc' } }));
    assert.deepEqual([badDigest.code, badDigest.field], ['BAD_USER_INPUT', 'filter.digest']);
    const none = onlyError(await h.gql(await h.token(a.tenantId, randomUUID()), '{ scanArtifacts { totalCount } }'));
    assert.equal(none.code, 'FORBIDDEN');
  });

  it('the upload receipt, the portal and the signed artifact describe the image alike', async () => {
    const digest = `sha256:${'6b'.repeat(32)}`;
    const res = await upload(
      h,
      ciA.token,
      report('ghcr.io/acme/mapped', '3.1', digest, [
        ['CVE-2024-0101', 'HIGH', 'openssl'],
        ['CVE-2024-0101', 'CRITICAL', 'libssl'],
        ['CVE-2024-0102', 'MEDIUM', 'zlib'],
      ]),
    ).expect(201);
    const receipt = (res.body as { artifact: Record<string, unknown> & { findings: number } }).artifact;
    const q = `query($f: ScanArtifactFilter) { scanArtifacts(filter: $f) { edges { node {
      id repository tags repoDigest imageId tagBound scanner { name version } scannedAt receivedAt vulnerabilities { critical high medium low unknown } findingsCount } } } }`;
    const listed = (
      await ok<{ scanArtifacts: { edges: Array<{ node: Record<string, unknown> & { findingsCount: number } }> } }>(
        h.gql(a.ownerToken, q, { f: { digest } }),
      )
    ).scanArtifacts.edges;
    assert.equal(listed.length, 1);
    const { findingsCount, ...node } = listed[0]!.node;
    const { findings, ...summary } = receipt;
    assert.deepEqual(summary, node);
    assert.equal(findings, findingsCount);
    assert.deepEqual(
      summary['vulnerabilities'],
      { critical: 1, high: 0, medium: 1, low: 0, unknown: 0 },
      'distinct ids by worst severity',
    );

    const found = (await lookup(h, agentA.agentToken, [`ghcr.io/acme/mapped@${digest}`]).expect(200)).body as {
      results: Array<{ artifact: { payload: string } }>;
    };
    const signed = JSON.parse(Buffer.from(found.results[0]!.artifact.payload, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    > & { findings: unknown[]; scanner: unknown };
    assert.deepEqual(
      {
        repository: signed['repository'],
        tags: signed['tags'],
        repoDigest: signed['repoDigest'],
        tagBound: signed['tagBound'],
        scanner: signed.scanner,
        scannedAt: signed['scannedAt'],
        findings: signed.findings.length,
      },
      {
        repository: node['repository'],
        tags: node['tags'],
        repoDigest: node['repoDigest'],
        tagBound: node['tagBound'],
        scanner: node['scanner'],
        scannedAt: node['scannedAt'],
        findings: findingsCount,
      },
    );
  });

  it('pages newest upload first', async () => {
    const first = await ok<{
      scanArtifacts: {
        totalCount: number;
        edges: Array<{ node: { id: string } }>;
        pageInfo: { endCursor: string; hasNextPage: boolean };
      };
    }>(
      h.gql(
        a.ownerToken,
        '{ scanArtifacts(first: 2) { totalCount edges { node { id } } pageInfo { endCursor hasNextPage } } }',
      ),
    );
    assert.ok(first.scanArtifacts.pageInfo.hasNextPage);
    const rest = await ok<{ scanArtifacts: { edges: Array<{ node: { id: string } }> } }>(
      h.gql(a.ownerToken, 'query($a: String) { scanArtifacts(first: 100, after: $a) { edges { node { id } } } }', {
        a: first.scanArtifacts.pageInfo.endCursor,
      }),
    );
    const all = [...first.scanArtifacts.edges, ...rest.scanArtifacts.edges].map((e) => e.node.id);
    assert.equal(new Set(all).size, first.scanArtifacts.totalCount);
  });

  it('revocation takes effect at once and is audited; revoking again changes nothing', async () => {
    const t = await createUploadToken(h, a.ownerToken, 'short-lived');
    await upload(h, t.token, report('ghcr.io/acme/job', '1', undefined, [])).expect(201);
    const revoked = await ok<{ revokeScanUploadToken: { revokedAt: string | null } }>(
      h.gql(a.ownerToken, 'mutation($id: ID!) { revokeScanUploadToken(id: $id) { revokedAt } }', { id: t.id }),
    );
    assert.ok(revoked.revokeScanUploadToken.revokedAt);
    const refused = await upload(h, t.token, report('ghcr.io/acme/job', '2', undefined, [])).expect(401);
    assert.match(refused.body.message, /revoked/);
    await ok(h.gql(a.ownerToken, 'mutation($id: ID!) { revokeScanUploadToken(id: $id) { id } }', { id: t.id }));
    const log = await ok<{ auditLog: { totalCount: number } }>(
      h.gql(a.ownerToken, '{ auditLog(filter: { action: "scanUploadToken.revoke" }) { totalCount } }'),
    );
    assert.equal(log.auditLog.totalCount, 1);
    // another tenant cannot revoke it, or learn that it exists
    const other = onlyError(
      await h.gql(b.ownerToken, 'mutation($id: ID!) { revokeScanUploadToken(id: $id) { id } }', { id: ciA.id }),
    );
    assert.equal(other.code, 'NOT_FOUND');
    await upload(h, ciA.token, report('ghcr.io/acme/still-works', '1', undefined, [])).expect(201);
  });
});
