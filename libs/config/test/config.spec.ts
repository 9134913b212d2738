import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, repoPath } from '@portcullis/config';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    assert.equal(c.env, 'development');
    assert.equal(c.port, 3000);
    assert.equal(c.databaseUrl, 'postgresql://postgres@127.0.0.1:5432/portcullis');
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
    assert.deepEqual(c.devIssuer, { port: 3443, stateDir: '.portcullis/dev-issuer' });
    assert.equal(c.auth.metadataUrl, 'https://127.0.0.1:3443/common/v2.0/.well-known/openid-configuration');
    assert.equal(c.auth.issuerTemplate, 'https://127.0.0.1:3443/{tenantid}/v2.0');
    assert.deepEqual(c.graphql, { maxComplexity: 2000, maxDepth: 12, maxExpensiveFields: 3, maxTokens: 2000 });
    assert.deepEqual(c.database, {
      poolSize: 10,
      sqlPoolSize: 8,
      tenantConcurrency: 3,
      tenantExpensiveConcurrency: 1,
      requestConcurrency: 2,
      tenantQueue: 64,
      queueWaitMs: 10000,
    });
  });

  it('uses Entra ID and no dev issuer in production', () => {
    const c = loadConfig({ NODE_ENV: 'production' });
    assert.equal(c.devIssuer, null);
    assert.equal(c.auth.metadataUrl, 'https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration');
    assert.equal(c.auth.issuerTemplate, 'https://login.microsoftonline.com/{tenantid}/v2.0');
  });

  const bad: Array<[Record<string, string>, string, RegExp]> = [
    [{ PORT: 'eighty' }, 'PORT', /port number/],
    [{ PORT: '70000' }, 'PORT', /65535/],
    [{ DATABASE_URL: 'mysql://x/y' }, 'DATABASE_URL', /postgresql/],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL', /redis/],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV', /development/],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /info/],
    [{ AUTH_ISSUER_TEMPLATE: 'https://issuer/v2.0' }, 'AUTH_ISSUER_TEMPLATE', /\{tenantid\}/],
    [{ AUTH_METADATA_URL: 'http://plain/metadata' }, 'AUTH_METADATA_URL', /https/],
    [{ NODE_ENV: 'production', DEV_ISSUER_ENABLED: 'true' }, 'DEV_ISSUER_ENABLED', /production/],
    [
      {
        NODE_ENV: 'production',
        AUTH_METADATA_URL: 'https://127.0.0.1:3443/common/v2.0/.well-known/openid-configuration',
      },
      'AUTH_METADATA_URL',
      /dev issuer/,
    ],
    [{ DB_TENANT_CONCURRENCY: '6' }, 'DB_TENANT_CONCURRENCY', /below 6/],
    [{ DB_POOL_SIZE: '6', DB_TENANT_CONCURRENCY: '4' }, 'DB_TENANT_CONCURRENCY', /below 4/],
    [{ GRAPHQL_MAX_EXPENSIVE_FIELDS: '0' }, 'GRAPHQL_MAX_EXPENSIVE_FIELDS', /1/],
    [{ DB_TENANT_QUEUE: '-1' }, 'DB_TENANT_QUEUE', /decimal digits/],
    [
      { NODE_ENV: 'production', ALERTS_ALLOW_PRIVATE_DESTINATIONS: 'true' },
      'ALERTS_ALLOW_PRIVATE_DESTINATIONS',
      /production/,
    ],
    [{ SECRETS_ENCRYPTION_KEYS: 'k1' }, 'SECRETS_ENCRYPTION_KEYS', /entry 1 must be <id>=<base64>/],
    [
      { SECRETS_ENCRYPTION_KEYS: 'k1=c2hvcnQ=' },
      'SECRETS_ENCRYPTION_KEYS',
      /key "k1" must be the base64 of exactly 32 bytes/,
    ],
    [
      {
        SECRETS_ENCRYPTION_KEYS: `k1=${Buffer.alloc(32, 1).toString('base64')},k1=${Buffer.alloc(32, 2).toString('base64')}`,
      },
      'SECRETS_ENCRYPTION_KEYS',
      /appears twice/,
    ],
    [
      { NODE_ENV: 'production', SECRETS_ENCRYPTION_KEYS: `dev=${Buffer.alloc(32, 1).toString('base64')}` },
      'SECRETS_ENCRYPTION_KEYS',
      /development key/,
    ],
  ];

  it('secrets keys: the first seals; development has a fixed key production never uses', () => {
    const k1 = Buffer.alloc(32, 7).toString('base64');
    const k2 = Buffer.alloc(32, 9).toString('base64');
    const c = loadConfig({ SECRETS_ENCRYPTION_KEYS: `k2=${k2},k1=${k1}` });
    assert.deepEqual(
      c.secretsEncryptionKeys.map((k) => k.id),
      ['k2', 'k1'],
    );
    assert.equal(loadConfig({}).secretsEncryptionKeys[0]!.id, 'dev');
    assert.deepEqual(loadConfig({ NODE_ENV: 'production' }).secretsEncryptionKeys, []);
    assert.equal(loadConfig({}).alerts.allowPrivateDestinations, false);
  });
  for (const [env, setting, message] of bad) {
    it(`refuses ${JSON.stringify(env)} naming ${setting}`, () => {
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => err instanceof ConfigError && err.setting === setting && message.test(err.message),
      );
    });
  }

  it('numeric settings are decimal digits: hex, exponents, signs and spaces are refused, naming the setting', () => {
    for (const value of ['0x50', '1e3', '+80', ' 80', '80 ', '80.0', '0b1', 'Infinity']) {
      assert.throws(
        () => loadConfig({ PORT: value }),
        (err: unknown) => err instanceof ConfigError && err.setting === 'PORT',
        `PORT=${value}`,
      );
      assert.throws(
        () => loadConfig({ HTTP_REQUEST_TIMEOUT_MS: value }),
        (err: unknown) =>
          err instanceof ConfigError && err.setting === 'HTTP_REQUEST_TIMEOUT_MS' && /decimal digits/.test(err.message),
        `HTTP_REQUEST_TIMEOUT_MS=${value}`,
      );
    }
    assert.equal(loadConfig({ PORT: '080' }).port, 80);
  });

  it('HTTP deadlines: documented defaults, and headers may not outlast the whole request', () => {
    assert.deepEqual(loadConfig({}).http, {
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 60_000,
      keepAliveTimeoutMs: 5_000,
      hstsMaxAgeSeconds: 31_536_000,
    });
    assert.throws(
      () => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' }),
      (err: unknown) => err instanceof ConfigError && err.setting === 'HTTP_HEADERS_TIMEOUT_MS',
    );
  });

  it('stops a process with one line naming the setting', () => {
    const res = spawnSync(
      process.execPath,
      ['-e', `require(${JSON.stringify(repoPath('libs', 'config'))}).loadConfigOrExit()`],
      {
        env: { PATH: process.env['PATH'], PORT: 'eighty' },
        encoding: 'utf8',
      },
    );
    assert.equal(res.status, 1);
    const lines = res.stderr.trim().split('\n');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^portcullis: invalid configuration: PORT /);
  });
});
