import assert from 'node:assert/strict';
import { createPublicKey, randomUUID, verify, type webcrypto } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DevIssuer,
  DevIssuerRefusedError,
  issuerBaseUrl,
  loadOrCreateState,
  readCaCertificate,
  startDevIssuer,
} from '@portcullis/dev-issuer';

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-dev-issuer-'));
// RSA key generation is the slow part: states are shared where a test does not modify them
let spare: ReturnType<typeof loadOrCreateState> | undefined;
const spareState = () => (spare ??= loadOrCreateState(tempDir()));

function get(
  url: string,
  ca: string,
  opts: { method?: string; servername?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ca, method: opts.method ?? 'GET', servername: opts.servername }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () =>
        resolve({ status: res.statusCode!, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

function decode(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = token.split('.') as [string, string];
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
  };
}

describe('dev issuer state', () => {
  it('is generated once with private files and reused by the next instance', () => {
    const dir = path.join(tempDir(), 'state');
    const first = new DevIssuer({ stateDir: dir });
    const second = new DevIssuer({ stateDir: dir });
    assert.equal(second.kid, first.kid);
    assert.equal(second.caCertPem, first.caCertPem);
    assert.equal(readCaCertificate(dir), first.caCertPem);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    for (const f of fs.readdirSync(dir)) assert.equal(fs.statSync(path.join(dir, f)).mode & 0o777, 0o600, f);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['ca.cert.pem', 'signing.key.pem', 'tls.cert.pem', 'tls.key.pem']);
  });

  it('regenerates a corrupt CA with its TLS certificate and keeps the signing key', () => {
    const dir = tempDir();
    const first = loadOrCreateState(dir);
    fs.writeFileSync(path.join(dir, 'ca.cert.pem'), 'not a certificate');
    const second = loadOrCreateState(dir);
    assert.notEqual(second.caCertPem, first.caCertPem);
    assert.equal(second.kid, first.kid);
  });

  it('regenerates a signing key that is not RSA, or a TLS certificate that does not match its key', () => {
    const dir = tempDir();
    const other = spareState();
    const first = loadOrCreateState(dir);
    fs.writeFileSync(
      path.join(dir, 'signing.key.pem'),
      '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
    );
    fs.writeFileSync(path.join(dir, 'tls.cert.pem'), other.tlsCertPem);
    const second = loadOrCreateState(dir);
    assert.notEqual(second.kid, first.kid);
    assert.notEqual(second.tlsCertPem, other.tlsCertPem);
    assert.notEqual(second.caCertPem, first.caCertPem);
  });

  it('reports an unwritable state directory clearly', () => {
    const file = path.join(tempDir(), 'a-file');
    fs.writeFileSync(file, '');
    assert.throws(
      () => loadOrCreateState(path.join(file, 'state')),
      /cannot write its state directory .*a-file\/state/,
    );
  });
});

describe('dev issuer endpoints', () => {
  let issuer: DevIssuer;
  before(async () => {
    issuer = new DevIssuer({ stateDir: tempDir() });
    await issuer.start({ port: 0 });
  });
  after(async () => issuer?.stop());

  it('serves multi-tenant metadata whose issuer is templated with {tenantid}, like Entra ID common', async () => {
    const res = await get(issuer.metadataUrl, issuer.caCertPem);
    assert.equal(res.status, 200);
    assert.equal(res.body['issuer'], `${issuer.url}/{tenantid}/v2.0`);
    assert.equal(res.body['jwks_uri'], `${issuer.url}/common/discovery/v2.0/keys`);
    assert.deepEqual(res.body['id_token_signing_alg_values_supported'], ['RS256']);
  });

  it('serves tenant metadata naming the tenant', async () => {
    const tid = randomUUID();
    const res = await get(`${issuer.url}/${tid}/v2.0/.well-known/openid-configuration`, issuer.caCertPem);
    assert.equal(res.status, 200);
    assert.equal(res.body['issuer'], `${issuer.url}/${tid}/v2.0`);
  });

  it('its TLS certificate is valid for localhost and 127.0.0.1 under its own CA only', async () => {
    assert.equal((await get(issuer.metadataUrl, issuer.caCertPem, { servername: 'localhost' })).status, 200);
    await assert.rejects(get(issuer.metadataUrl, spareState().caCertPem), /self-signed|unable to verify|signature/i);
  });

  it('mints Entra v2-shaped tokens that its JWKS verifies', async () => {
    const tid = randomUUID();
    const oid = randomUUID();
    const token = issuer.mintToken({
      tenantId: tid,
      oid,
      name: 'Grace Hopper',
      audience: 'api://portcullis',
      expiresInSeconds: 600,
    });
    const { header, payload } = decode(token);
    assert.deepEqual(header, { typ: 'JWT', alg: 'RS256', kid: issuer.kid });
    assert.equal(payload['iss'], `${issuer.url}/${tid}/v2.0`);
    assert.equal(payload['aud'], 'api://portcullis');
    assert.equal(payload['tid'], tid);
    assert.equal(payload['oid'], oid);
    assert.equal(payload['sub'], oid);
    assert.equal(payload['ver'], '2.0');
    assert.equal(payload['scp'], 'access_as_user');
    assert.equal(payload['preferred_username'], 'grace.hopper@dev.portcullis.local');
    assert.equal((payload['exp'] as number) - (payload['iat'] as number), 600);
    assert.equal(payload['nbf'], payload['iat']);

    const jwks = await get(`${issuer.url}/common/discovery/v2.0/keys`, issuer.caCertPem);
    const keys = jwks.body['keys'] as Array<webcrypto.JsonWebKey & { kid: string; use: string }>;
    assert.equal(keys.length, 1);
    assert.equal(keys[0]!.kid, issuer.kid);
    assert.equal(keys[0]!.use, 'sig');
    const [h, p, s] = token.split('.') as [string, string, string];
    assert.ok(
      verify(
        'RSA-SHA256',
        Buffer.from(`${h}.${p}`),
        createPublicKey({ key: keys[0]!, format: 'jwk' }),
        Buffer.from(s, 'base64url'),
      ),
    );
  });

  it('answers 404 to unknown paths and 405 to writes', async () => {
    assert.equal((await get(`${issuer.url}/nope`, issuer.caCertPem)).status, 404);
    assert.equal((await get(`${issuer.url}/../v2.0/.well-known/openid-configuration`, issuer.caCertPem)).status, 404);
    assert.equal((await get(issuer.metadataUrl, issuer.caCertPem, { method: 'POST' })).status, 405);
  });

  it('refuses to start twice, and names a port in use', async () => {
    await assert.rejects(issuer.start(), /already listening/);
    await assert.rejects(
      startDevIssuer({ stateDir: issuer.stateDir, port: issuer.port }),
      /cannot listen on 127\.0\.0\.1:\d+: the port is in use/,
    );
  });

  it('refuses bad mint options with the option named', () => {
    assert.throws(() => issuer.mintToken({ tenantId: '', oid: randomUUID(), audience: 'a' }), /tenantId is required/);
    assert.throws(
      () => issuer.mintToken({ tenantId: randomUUID(), oid: randomUUID(), audience: 'a', expiresInSeconds: 1.5 }),
      /expiresInSeconds must be a whole number/,
    );
  });
});

describe('dev issuer URL for the iss claim', () => {
  it('defaults to 127.0.0.1:3443, follows DEV_ISSUER_PORT, and DEV_ISSUER_URL wins', () => {
    assert.equal(issuerBaseUrl({}), 'https://127.0.0.1:3443');
    assert.equal(issuerBaseUrl({ DEV_ISSUER_PORT: '4443' }), 'https://127.0.0.1:4443');
    assert.equal(
      issuerBaseUrl({ DEV_ISSUER_PORT: '4443', DEV_ISSUER_URL: 'https://localhost:5443' }),
      'https://localhost:5443',
    );
  });

  it('refuses a bad port or URL, naming the variable', () => {
    assert.throws(() => issuerBaseUrl({ DEV_ISSUER_PORT: '70000' }), /DEV_ISSUER_PORT "70000" is not a port number/);
    assert.throws(
      () => issuerBaseUrl({ DEV_ISSUER_URL: 'http://127.0.0.1:3443' }),
      /DEV_ISSUER_URL .* must be an https URL/,
    );
    assert.throws(
      () => issuerBaseUrl({ DEV_ISSUER_URL: 'https://127.0.0.1:3443/x' }),
      /DEV_ISSUER_URL .* must be an origin only/,
    );
  });
});

describe('dev issuer in production', () => {
  it('refuses to construct, start, create state or hand out its CA when NODE_ENV=production', async () => {
    const dir = spareState().dir;
    const issuer = new DevIssuer({ stateDir: dir });
    const previous = process.env['NODE_ENV'];
    process.env['NODE_ENV'] = 'production';
    try {
      assert.throws(
        () => new DevIssuer({ stateDir: dir }),
        (e: unknown) => e instanceof DevIssuerRefusedError && /refused when NODE_ENV=production/.test(e.message),
      );
      await assert.rejects(issuer.start({ port: 0 }), DevIssuerRefusedError);
      assert.throws(() => loadOrCreateState(tempDir()), DevIssuerRefusedError);
      assert.throws(() => readCaCertificate(dir), DevIssuerRefusedError);
    } finally {
      if (previous === undefined) delete process.env['NODE_ENV'];
      else process.env['NODE_ENV'] = previous;
    }
  });
});
