import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { ApiHarness, GqlResult } from '@portcullis/testing';

export function data<T>(res: GqlResult<T>): T {
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  return res.data as T;
}

export interface TestCluster {
  readonly id: string;
  readonly token: string;
  readonly cloudScopeId: string;
}

/** A cloud scope (AWS account `account`) with one registered cluster, through GraphQL. */
export async function scopeWithCluster(
  h: ApiHarness,
  ownerToken: string,
  account: string,
  name: string,
): Promise<TestCluster> {
  const scope = data(
    await h.gql<{ createCloudScope: { id: string } }>(
      ownerToken,
      `mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "${account}", displayName: "${name}" }) { id } }`,
    ),
  ).createCloudScope;
  return clusterIn(h, ownerToken, scope.id, name);
}

export async function clusterIn(
  h: ApiHarness,
  ownerToken: string,
  cloudScopeId: string,
  name: string,
): Promise<TestCluster> {
  const reg = data(
    await h.gql<{ registerCluster: { cluster: { id: string }; agentToken: string } }>(
      ownerToken,
      `mutation($i: RegisterClusterInput!) { registerCluster(input: $i) { cluster { id } agentToken } }`,
      { i: { cloudScopeId, name, distribution: 'EKS' } },
    ),
  ).registerCluster;
  return { id: reg.cluster.id, token: reg.agentToken, cloudScopeId };
}

/**
 * A controller-created pod as a validating webhook sees it: a generated name, a uid, and the
 * service-account token volume kube-apiserver injects under a random name and mounts.
 */
export function podSnapshot(
  namespace: string,
  owner: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const token = `kube-api-access-${randomBytes(4).toString('hex').slice(0, 5)}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${owner}-`,
      name: `${owner}-${randomUUID().slice(0, 5)}`,
      uid: randomUUID(),
      namespace,
      creationTimestamp: new Date().toISOString(),
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.example.com/app:1.0',
          volumeMounts: [{ name: token, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
        },
      ],
      volumes: [
        {
          name: token,
          projected: {
            defaultMode: 420,
            sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }],
          },
        },
      ],
    },
    ...overrides,
  };
}

export function upload(h: ApiHarness, token: string, events: readonly unknown[], options: { gzip?: boolean } = {}) {
  const body = JSON.stringify({ events });
  return post(h, token, options.gzip ? gzipSync(body) : body, options.gzip ? { 'Content-Encoding': 'gzip' } : {});
}

/** The bytes exactly as given (superagent would JSON-encode a Buffer sent as application/json). */
export function post(
  h: ApiHarness,
  token: string | undefined,
  body: Buffer | string,
  headers: Record<string, string> = {},
) {
  const req = h
    .http()
    .post('/agent/v1/admission-events')
    .set('Content-Type', 'application/json')
    .serialize((b: unknown) => b as string);
  if (token) req.set('Authorization', `Bearer ${token}`);
  for (const [k, v] of Object.entries(headers)) req.set(k, v);
  return req.send(body);
}
