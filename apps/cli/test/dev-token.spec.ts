import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, randomUUID, verify, type webcrypto } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoPath } from '@portcullis/config';
import { DevIssuer } from '@portcullis/dev-issuer';

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-dev-token-'));

function devToken(args: string[], env: Record<string, string> = {}) {
  const res = spawnSync(process.execPath, [repoPath('apps', 'cli', 'bin', 'portcullis.js'), 'dev-token', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '', DEV_ISSUER_STATE_DIR: stateDir, ...env },
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

function jwks(issuer: DevIssuer): Promise<Array<webcrypto.JsonWebKey & { kid: string }>> {
  return new Promise((resolve, reject) => {
    https
      .get(`${issuer.url}/common/discovery/v2.0/keys`, { ca: issuer.caCertPem }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () =>
          resolve((JSON.parse(text) as { keys: Array<webcrypto.JsonWebKey & { kid: string }> }).keys),
        );
      })
      .on('error', reject);
  });
}

describe('portcullis dev-token', () => {
  let issuer: DevIssuer;
  before(async () => {
    issuer = new DevIssuer({ stateDir });
    await issuer.start({ port: 0 });
  });
  after(async () => issuer?.stop());

  it("prints one line: a token the running issuer's JWKS verifies, with the requested claims", async () => {
    const tenant = randomUUID();
    const user = randomUUID().toUpperCase();
    const res = devToken(['--tenant', tenant, '--user', user, '--name', 'Ada', '--expires-in', '120'], {
      DEV_ISSUER_PORT: String(issuer.port),
    });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stderr, '');
    assert.match(res.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const [h, p, s] = res.stdout.trim().split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { kid: string };
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const key = (await jwks(issuer)).find((k) => k.kid === header.kid);
    assert.ok(key, 'the token names a key the issuer publishes');
    assert.ok(
      verify(
        'RSA-SHA256',
        Buffer.from(`${h}.${p}`),
        createPublicKey({ key, format: 'jwk' }),
        Buffer.from(s, 'base64url'),
      ),
    );
    assert.equal(claims['iss'], `${issuer.url}/${tenant}/v2.0`);
    assert.equal(claims['tid'], tenant);
    assert.equal(claims['oid'], user.toLowerCase());
    assert.equal(claims['name'], 'Ada');
    assert.equal(claims['aud'], 'api://portcullis');
    assert.equal((claims['exp'] as number) - (claims['iat'] as number), 120);
  });

  it('takes the audience from AUTH_AUDIENCE or --audience, and the issuer from DEV_ISSUER_URL', () => {
    const claims = (out: string) =>
      JSON.parse(Buffer.from(out.trim().split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    const ids = ['--tenant', randomUUID(), '--user', randomUUID()];
    const fromEnv = devToken(ids, { AUTH_AUDIENCE: 'api://from-env', DEV_ISSUER_URL: 'https://localhost:9443' });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.equal(claims(fromEnv.stdout)['aud'], 'api://from-env');
    assert.equal(claims(fromEnv.stdout)['iss'], `https://localhost:9443/${ids[1]}/v2.0`);
    const fromFlag = devToken([...ids, '--audience', 'api://flag'], { AUTH_AUDIENCE: 'api://from-env' });
    assert.equal(claims(fromFlag.stdout)['aud'], 'api://flag');
  });

  const usage: Array<[string, string[], Record<string, string>, RegExp]> = [
    [
      'a tenant that is not a GUID',
      ['--tenant', 'contoso', '--user', randomUUID()],
      {},
      /--tenant "contoso" is not a GUID/,
    ],
    ['a user that is not a GUID', ['--tenant', randomUUID(), '--user', '42'], {}, /--user "42" is not a GUID/],
    ['a missing --user', ['--tenant', randomUUID()], {}, /--user is required/],
    [
      'an unknown flag',
      ['--tenant', randomUUID(), '--user', randomUUID(), '--role', 'x'],
      {},
      /Unknown option '--role'/,
    ],
    [
      'a bad --expires-in',
      ['--tenant', randomUUID(), '--user', randomUUID(), '--expires-in', '1h'],
      {},
      /--expires-in "1h" must be a whole number/,
    ],
    [
      'a bad DEV_ISSUER_PORT',
      ['--tenant', randomUUID(), '--user', randomUUID()],
      { DEV_ISSUER_PORT: 'x' },
      /DEV_ISSUER_PORT "x" is not a port number/,
    ],
    [
      'production',
      ['--tenant', randomUUID(), '--user', randomUUID()],
      { NODE_ENV: 'production' },
      /refused: .*NODE_ENV=production/,
    ],
  ];
  for (const [name, args, env, message] of usage) {
    it(`${name} -> exit 2, one clear message, no token`, () => {
      const res = devToken(args, env);
      assert.equal(res.code, 2);
      assert.equal(res.stdout, '');
      assert.match(res.stderr, message);
    });
  }
});
