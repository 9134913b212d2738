/**
 * Artifacts are signed at upload with the active bundle key and stored signed. A key
 * rotation keeps them verifiable: while the old key is published they keep its
 * signature; once it is gone from the key directory, the lookup signs them again with
 * the active key (and stores that), so an agent never receives an unverifiable artifact.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fromJwks, generateSigningKey, verifyScanArtifact } from '@portcullis/bundle';
import {
  NO_DB_REASON,
  createUploadToken,
  lookupScanArtifacts as lookup,
  registerCluster,
  startApi,
  testDatabaseConfigured,
  uploadScanReport as upload,
  type ApiHarness,
} from '@portcullis/testing';

const DIGEST = `sha256:${'7c'.repeat(32)}`;
const IMAGE = `ghcr.io/acme/rotating@${DIGEST}`;
const REPORT = JSON.stringify({
  SchemaVersion: 2,
  CreatedAt: '2026-11-20T00:00:00Z',
  ArtifactType: 'container_image',
  Metadata: { RepoTags: ['ghcr.io/acme/rotating:1'], RepoDigests: [IMAGE] },
  Results: [
    {
      Target: 'os',
      Vulnerabilities: [{ VulnerabilityID: 'CVE-2024-9999', Severity: 'HIGH', PkgName: 'zlib', InstalledVersion: '1' }],
    },
  ],
});

describe(
  'scan artifacts across a signing-key rotation',
  { skip: testDatabaseConfigured ? false : NO_DB_REASON },
  () => {
    let keysDir: string;
    let h: ApiHarness | undefined;
    let tenant: { tenantId: string; ownerToken: string };
    let agentToken: string;
    let kidA: string;

    const restart = async () => {
      await h?.close();
      h = await startApi({ BUNDLE_SIGNING_KEYS_DIR: keysDir });
      return h;
    };
    const answer = async (api: ApiHarness) => {
      const res = await lookup(api, agentToken, [IMAGE]).expect(200);
      const trusted = fromJwks((await api.http().get('/.well-known/jwks.json').expect(200)).body);
      const envelope = res.body.results[0].artifact;
      return {
        envelope,
        verified: verifyScanArtifact(envelope, {
          trustedKeys: trusted,
          tenantId: tenant.tenantId,
          image: { repoDigest: DIGEST },
        }),
      };
    };

    before(async () => {
      keysDir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-rotation-'));
      const api = await restart();
      tenant = await api.onboard('rotation');
      agentToken = (await registerCluster(api, tenant.ownerToken, 'rot')).agentToken;
      const ci = await createUploadToken(api, tenant.ownerToken);
      await upload(api, ci.token, REPORT).expect(201);
      kidA = (await api.prisma.scanArtifact.findFirstOrThrow({ where: { tenantId: tenant.tenantId } })).kid;
    });
    after(async () => {
      await h?.close();
      fs.rmSync(keysDir, { recursive: true, force: true });
    });

    it('a new active key: stored artifacts keep the old, still published signature', async () => {
      fs.writeFileSync(
        path.join(keysDir, 'zzzz-new.pem'),
        generateSigningKey().privateKey.export({ type: 'pkcs8', format: 'pem' }),
        { mode: 0o600 },
      );
      const api = await restart();
      const { envelope, verified } = await answer(api);
      assert.equal(envelope.kid, kidA);
      assert.ok(verified.ok, JSON.stringify(verified));
    });

    it('the old key removed: the lookup re-signs with the active key, stores it, and agents verify it', async () => {
      for (const f of fs.readdirSync(keysDir)) if (f !== 'zzzz-new.pem') fs.rmSync(path.join(keysDir, f));
      const api = await restart();
      const { envelope, verified } = await answer(api);
      assert.notEqual(envelope.kid, kidA);
      assert.ok(verified.ok, JSON.stringify(verified));
      assert.equal(verified.artifact.findings[0]!.id, 'CVE-2024-9999');
      const row = await api.prisma.scanArtifact.findFirstOrThrow({ where: { tenantId: tenant.tenantId } });
      assert.equal(row.kid, envelope.kid);
      assert.deepEqual(row.envelope, envelope);
    });
  },
);
