import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { generateSigningKey, toJwks } from '@portcullis/bundle';
import { CLUSTER, newAgentToken, startKubeApi, type KubeApiStandIn } from '@portcullis/testing';
import { loadAgentConfig } from '../src/config';
import { SERVICE_ACCOUNT_DIR, inClusterKubeConfig } from '../src/kube/kube-config';

const base = (): Record<string, string> => ({
  PORTCULLIS_API_URL: 'https://portcullis.example.com',
  PORTCULLIS_CLUSTER_ID: CLUSTER,
  PORTCULLIS_AGENT_TOKEN: newAgentToken(),
  PORTCULLIS_TRUSTED_KEYS: JSON.stringify(toJwks([generateSigningKey()])),
  PORTCULLIS_TLS_CERT_FILE: '/tls/tls.crt',
  PORTCULLIS_TLS_KEY_FILE: '/tls/tls.key',
});

describe("the agent's Kubernetes credentials", () => {
  let kube: KubeApiStandIn;
  before(async () => {
    kube = await startKubeApi();
  });
  after(() => kube.close());

  it('has none outside a pod: KUBERNETES_SERVICE_HOST is not set', () => {
    assert.equal(loadAgentConfig(base()).kubernetes, undefined);
  });

  it("reads the pod's service account and reaches the API as it", async () => {
    const config = loadAgentConfig({ ...base(), ...kube.agentEnv });
    assert.equal(config.kubernetes?.host, '127.0.0.1');
    const api = inClusterKubeConfig(config.kubernetes!).makeApiClient(CoreV1Api);
    kube.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    const names = (await api.listNamespace()).items.map((n) => n.metadata?.name);
    assert.deepEqual(names, ['shop']);
  });

  it('authenticates with what the token file holds, not a token given at start', async () => {
    const config = loadAgentConfig({ ...base(), ...kube.agentEnv });
    const tokenFile = path.join(config.kubernetes!.serviceAccountRoot, SERVICE_ACCOUNT_DIR, 'token');
    fs.writeFileSync(tokenFile, 'a-revoked-token');
    try {
      const api = inClusterKubeConfig(config.kubernetes!).makeApiClient(CoreV1Api);
      await assert.rejects(api.listNamespace(), (err: { code?: number }) => err.code === 401);
    } finally {
      fs.writeFileSync(tokenFile, kube.token);
    }
  });

  it('refuses a port that is not a port, naming the setting', () => {
    assert.throws(
      () => loadAgentConfig({ ...base(), KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: 'https' }),
      /KUBERNETES_SERVICE_PORT: must be a whole number/,
    );
  });
});
