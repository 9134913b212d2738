import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '@portcullis/config';
import type { ApiHarness, GqlResult } from './api-harness';

/** The real third-party reports beside the repository (read, never copied in). */
export const SCANS = path.resolve(repoRoot(), '..', 'shared', 'fixtures', 'scans');
export const scansPresent = fs.existsSync(SCANS);
export const NO_SCANS = '../shared/fixtures/scans is not beside this clone';

export const readReport = (dir: 'trivy' | 'grype', file: string): Buffer =>
  fs.readFileSync(path.join(SCANS, dir, file));

export async function ok<T>(r: Promise<GqlResult<T>>): Promise<T> {
  const res = await r;
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  return res.data as T;
}

/** A cloud scope and a cluster in the tenant; returns the cluster's agent credential. */
export async function registerCluster(
  h: ApiHarness,
  ownerToken: string,
  name: string,
): Promise<{ clusterId: string; agentToken: string }> {
  const externalId = String(100000000000 + Math.floor(Math.random() * 899999999999)).slice(0, 12);
  const scope = await ok<{ createCloudScope: { id: string } }>(
    h.gql(ownerToken, 'mutation($i: CreateCloudScopeInput!) { createCloudScope(input: $i) { id } }', {
      i: { provider: 'AWS_ACCOUNT', externalId, displayName: name },
    }),
  );
  const c = await ok<{ registerCluster: { cluster: { id: string }; agentToken: string } }>(
    h.gql(
      ownerToken,
      'mutation($i: RegisterClusterInput!) { registerCluster(input: $i) { cluster { id } agentToken } }',
      { i: { cloudScopeId: scope.createCloudScope.id, name, distribution: 'EKS' } },
    ),
  );
  return { clusterId: c.registerCluster.cluster.id, agentToken: c.registerCluster.agentToken };
}

export async function createUploadToken(
  h: ApiHarness,
  token: string,
  name = 'ci',
): Promise<{ id: string; token: string }> {
  const d = await ok<{ createScanUploadToken: { scanUploadToken: { id: string }; token: string } }>(
    h.gql(token, 'mutation($n: String!) { createScanUploadToken(name: $n) { scanUploadToken { id } token } }', {
      n: name,
    }),
  );
  return { id: d.createScanUploadToken.scanUploadToken.id, token: d.createScanUploadToken.token };
}

/**
 * POST /api/v1/scan-reports as curl --data-binary does. Text goes as application/json;
 * bytes (gzip) as application/octet-stream, since superagent would JSON-encode a Buffer
 * sent as JSON. The endpoint reads any content type.
 */
export function uploadScanReport(
  h: ApiHarness,
  token: string | undefined,
  body: Buffer | string,
  headers: Record<string, string> = {},
) {
  const gzipped = headers['Content-Encoding'] === 'gzip';
  const req = h
    .http()
    .post('/api/v1/scan-reports')
    .set('Content-Type', gzipped ? 'application/octet-stream' : 'application/json');
  if (token) req.set('Authorization', `Bearer ${token}`);
  for (const [k, v] of Object.entries(headers)) req.set(k, v);
  return req.send(gzipped || typeof body === 'string' ? body : body.toString('utf8'));
}

export function lookupScanArtifacts(h: ApiHarness, agentToken: string, images: string[]) {
  return h.http().post('/agent/v1/scan-artifacts/lookup').set('Authorization', `Bearer ${agentToken}`).send({ images });
}
