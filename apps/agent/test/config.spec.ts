import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { generateSigningKey, toJwks } from '@portcullis/bundle';
import { repoPath } from '@portcullis/config';
import { AgentConfigError, loadAgentConfig } from '../src/config';
import { CLUSTER, newAgentToken, tempDir } from '@portcullis/testing';

const key = generateSigningKey();
const base = (): Record<string, string> => ({
  PORTCULLIS_API_URL: 'https://portcullis.example.com',
  PORTCULLIS_CLUSTER_ID: CLUSTER,
  PORTCULLIS_AGENT_TOKEN: newAgentToken(),
  PORTCULLIS_TRUSTED_KEYS: JSON.stringify(toJwks([key])),
  PORTCULLIS_TLS_CERT_FILE: '/tls/tls.crt',
  PORTCULLIS_TLS_KEY_FILE: '/tls/tls.key',
});
const refused = (env: Record<string, string | undefined>) => {
  try {
    loadAgentConfig(env);
  } catch (err) {
    assert.ok(err instanceof AgentConfigError);
    assert.doesNotMatch(err.message, /\n/);
    return err.message;
  }
  assert.fail('the configuration was accepted');
};

describe('agent configuration', () => {
  it('defaults: its own namespace and kube-system excluded, allow without a bundle, HTTPS on 8443', () => {
    const c = loadAgentConfig(base());
    assert.deepEqual(c.excludedNamespaces, ['portcullis-system', 'kube-system']);
    assert.equal(c.noBundleAction, 'allow');
    assert.equal(c.webhook.port, 8443);
    assert.equal(c.trustedKeys[0]!.kid, key.kid);
    const own = loadAgentConfig({ ...base(), PORTCULLIS_AGENT_NAMESPACE: 'security' });
    assert.deepEqual(own.excludedNamespaces, ['security', 'kube-system']);
    assert.deepEqual(
      loadAgentConfig({ ...base(), PORTCULLIS_EXCLUDED_NAMESPACES: 'kube-*, tools' }).excludedNamespaces,
      ['kube-*', 'tools'],
    );
  });

  it('numeric settings are decimal digits: 0x10, 1e1, signs and spaces are refused naming the setting', () => {
    for (const value of ['0x10', '1e1', '+5', ' 5', '5 ', '5.0', '0b1']) {
      assert.match(
        refused({ ...base(), PORTCULLIS_BUNDLE_WAIT_SECONDS: value }),
        /^PORTCULLIS_BUNDLE_WAIT_SECONDS: must be a whole number in decimal digits/,
        value,
      );
    }
    assert.equal(loadAgentConfig({ ...base(), PORTCULLIS_BUNDLE_WAIT_SECONDS: '16' }).bundleWaitSeconds, 16);
  });

  it('HTTP deadlines: defaults, and headers may not outlast the whole request', () => {
    assert.deepEqual(loadAgentConfig(base()).http, {
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 15_000,
      keepAliveTimeoutMs: 65_000,
    });
    assert.match(
      refused({ ...base(), PORTCULLIS_HTTP_HEADERS_TIMEOUT_MS: '20000', PORTCULLIS_HTTP_REQUEST_TIMEOUT_MS: '10000' }),
      /^PORTCULLIS_HTTP_HEADERS_TIMEOUT_MS: is above PORTCULLIS_HTTP_REQUEST_TIMEOUT_MS/,
    );
  });

  it('native enforcement: resync, metrics and Kubernetes request deadlines, defaults and bounds', () => {
    assert.deepEqual(loadAgentConfig(base()).native, {
      resyncMs: 300_000,
      metricsMs: 60_000,
      requestTimeoutMs: 10_000,
    });
    const c = loadAgentConfig({
      ...base(),
      PORTCULLIS_NATIVE_RESYNC_SECONDS: '30',
      PORTCULLIS_NATIVE_METRICS_SECONDS: '15',
      PORTCULLIS_KUBE_REQUEST_TIMEOUT_SECONDS: '5',
    });
    assert.deepEqual(c.native, { resyncMs: 30_000, metricsMs: 15_000, requestTimeoutMs: 5_000 });
    assert.match(refused({ ...base(), PORTCULLIS_NATIVE_RESYNC_SECONDS: '0' }), /^PORTCULLIS_NATIVE_RESYNC_SECONDS: /);
    assert.match(
      refused({ ...base(), PORTCULLIS_NATIVE_METRICS_SECONDS: '1e2' }),
      /^PORTCULLIS_NATIVE_METRICS_SECONDS: /,
    );
    assert.match(
      refused({ ...base(), PORTCULLIS_KUBE_REQUEST_TIMEOUT_SECONDS: '301' }),
      /^PORTCULLIS_KUBE_REQUEST_TIMEOUT_SECONDS: /,
    );
  });

  it('background audit: on by default (hourly, 1 s batches, pages of 500); bad values refused naming the setting', () => {
    const c = loadAgentConfig(base());
    assert.deepEqual(c.background, {
      enabled: true,
      intervalMs: 3_600_000,
      batchMs: 1000,
      listPageSize: 500,
      lookupTimeoutMs: 10_000,
    });
    assert.equal(c.kubernetes, undefined, 'no Kubernetes API outside a pod');
    assert.equal(loadAgentConfig({ ...base(), PORTCULLIS_BACKGROUND_AUDIT: 'false' }).background.enabled, false);
    assert.match(
      refused({ ...base(), PORTCULLIS_BACKGROUND_AUDIT: 'no' }),
      /^PORTCULLIS_BACKGROUND_AUDIT: must be true or false/,
    );
    assert.match(
      refused({ ...base(), PORTCULLIS_BACKGROUND_INTERVAL_SECONDS: '5' }),
      /^PORTCULLIS_BACKGROUND_INTERVAL_SECONDS: /,
    );
    assert.match(
      refused({ ...base(), PORTCULLIS_BACKGROUND_LIST_PAGE_SIZE: '0x10' }),
      /^PORTCULLIS_BACKGROUND_LIST_PAGE_SIZE: /,
    );
  });

  it('reads the credential and the JWKS from files (Secret and ConfigMap mounts)', () => {
    const dir = tempDir();
    const token = newAgentToken();
    fs.writeFileSync(path.join(dir, 'token'), `${token}\n`);
    fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify(toJwks([key])));
    const { PORTCULLIS_AGENT_TOKEN: _t, PORTCULLIS_TRUSTED_KEYS: _k, ...rest } = base();
    const c = loadAgentConfig({
      ...rest,
      PORTCULLIS_AGENT_TOKEN_FILE: path.join(dir, 'token'),
      PORTCULLIS_TRUSTED_KEYS_FILE: path.join(dir, 'jwks.json'),
    });
    assert.equal(c.agentToken, token);
  });

  it('one line naming the bad setting, never the secret', () => {
    const { PORTCULLIS_API_URL: _u, ...noUrl } = base();
    assert.equal(refused(noUrl), 'PORTCULLIS_API_URL: is required');
    assert.match(
      refused({ ...base(), PORTCULLIS_API_URL: 'ftp://x' }),
      /^PORTCULLIS_API_URL: must be an http\(s\) URL/,
    );
    assert.match(
      refused({ ...base(), PORTCULLIS_CLUSTER_ID: 'abc' }),
      /^PORTCULLIS_CLUSTER_ID: must be the cluster id/,
    );
    const bad = 'pca_not-a-real-token-secret';
    const m = refused({ ...base(), PORTCULLIS_AGENT_TOKEN: bad });
    assert.match(m, /^PORTCULLIS_AGENT_TOKEN: is not an agent credential/);
    assert.ok(!m.includes(bad));
    assert.match(
      refused({ ...base(), PORTCULLIS_AGENT_TOKEN_FILE: '/nope' }),
      /^PORTCULLIS_AGENT_TOKEN: set exactly one of/,
    );
    assert.match(
      refused({ ...base(), PORTCULLIS_TRUSTED_KEYS: '{"keys":[]}' }),
      /^PORTCULLIS_TRUSTED_KEYS: the JWKS holds no Ed25519 signing key/,
    );
    assert.match(refused({ ...base(), PORTCULLIS_TRUSTED_KEYS: 'nope' }), /^PORTCULLIS_TRUSTED_KEYS: is not JSON/);
    assert.match(
      refused({ ...base(), PORTCULLIS_NO_BUNDLE_ACTION: 'block' }),
      /^PORTCULLIS_NO_BUNDLE_ACTION: must be allow or deny/,
    );
    assert.match(refused({ ...base(), PORTCULLIS_WEBHOOK_PORT: '70000' }), /^PORTCULLIS_WEBHOOK_PORT: /);
    assert.match(
      refused({ ...base(), PORTCULLIS_EXCLUDED_NAMESPACES: 'Kube System' }),
      /^PORTCULLIS_EXCLUDED_NAMESPACES: must be namespace names/,
    );
    const { PORTCULLIS_TLS_CERT_FILE: _c, ...noCert } = base();
    assert.equal(refused(noCert), 'PORTCULLIS_TLS_CERT_FILE: is required');
  });

  it('the agent process refuses to start on a bad setting: exit 2, one line on stderr naming it', () => {
    const r = spawnSync(process.execPath, [repoPath('dist', 'apps', 'agent', 'src', 'main.js')], {
      env: { ...base(), PORTCULLIS_NO_BUNDLE_ACTION: 'maybe', PATH: process.env['PATH'] ?? '' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'portcullis-agent: PORTCULLIS_NO_BUNDLE_ACTION: must be allow or deny\n');
  });
});
