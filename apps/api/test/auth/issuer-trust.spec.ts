/**
 * Where trust in the development issuer starts and stops: its CA is trusted for the
 * metadata and key fetches of the auth module only, never process-wide, and never in
 * production; an unreachable issuer gives a clear reason, not a crash.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { loadConfig } from '@portcullis/config';
import { DevIssuer } from '@portcullis/dev-issuer';
import { AuthModule, AuthOptionsError, authOptionsFrom, type AuthOptions } from '../../src/auth';
import { IssuerMetadataSource } from '../../src/auth/issuer-metadata';
import { startAuthTestApp, tempStateDir, type AuthTestApp } from './auth-test-app';

function plainGet(url: string): Promise<{ status?: number; error?: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    https
      .get(url, (res) => {
        res.resume();
        resolve({ status: res.statusCode });
      })
      .on('error', (error: NodeJS.ErrnoException) => resolve({ error }));
  });
}

describe('dev issuer trust', () => {
  let issuer: DevIssuer;
  let t: AuthTestApp;
  const stateDir = tempStateDir('trust');

  before(async () => {
    issuer = new DevIssuer({ stateDir });
    await issuer.start({ port: 0 });
    t = await startAuthTestApp(issuer);
  });
  after(async () => {
    await t?.close();
    await issuer?.stop();
  });

  const token = () => issuer.mintToken({ tenantId: randomUUID(), oid: randomUUID(), audience: t.options.audience });

  it('the auth module fetches metadata and keys over TLS verified against the dev CA', async () => {
    const res = await request(t.app.getHttpServer()).get('/whoami').set('Authorization', `Bearer ${token()}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });

  it('the rest of the process does not trust the dev CA', async () => {
    const res = await plainGet(issuer.metadataUrl);
    assert.equal(res.status, undefined);
    assert.match(
      String(res.error?.code),
      /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/,
    );
    assert.equal(https.globalAgent.options.ca, undefined);
  });

  it('without the CA (as in production) the dev issuer is not trusted: tokens are refused, the cause is logged', async () => {
    const untrusting = await startAuthTestApp(issuer, { extraTrustedCaPem: undefined });
    try {
      const res = await request(untrusting.app.getHttpServer())
        .get('/whoami')
        .set('Authorization', `Bearer ${token()}`);
      assert.equal(res.status, 401);
      assert.match(res.body.message, /token issuer could not be reached/);
      assert.match(untrusting.logs.join('\n'), /self-signed certificate in certificate chain|unable to verify/i);
    } finally {
      await untrusting.close();
    }
  });

  it('an issuer that is down gives 401 with a clear reason, and the next request retries', async () => {
    const other = new DevIssuer({ stateDir });
    await other.start({ port: 0 });
    const port = other.port;
    await other.stop(); // nothing listens there any more
    const url = `https://127.0.0.1:${port}`;
    const down = await startAuthTestApp(issuer, {
      identityMetadataUrl: `${url}/common/v2.0/.well-known/openid-configuration`,
      allowedIssuerTemplate: `${url}/{tenantid}/v2.0`,
    });
    try {
      const mint = () =>
        other.mintToken({ tenantId: randomUUID(), oid: randomUUID(), audience: down.options.audience });
      const first = await request(down.app.getHttpServer()).get('/whoami').set('Authorization', `Bearer ${mint()}`);
      assert.equal(first.status, 401);
      assert.match(first.body.message, /token issuer could not be reached/);
      await other.start({ port });
      const second = await request(down.app.getHttpServer()).get('/whoami').set('Authorization', `Bearer ${mint()}`);
      assert.equal(second.status, 200, JSON.stringify(second.body));
    } finally {
      await down.close();
      await other.stop();
    }
  });

  it('a rotated signing key is picked up after a refetch; keys are not refetched for every unknown kid', async () => {
    const rotating = path.join(tempStateDir('rotate'));
    const before = new DevIssuer({ stateDir: rotating });
    await before.start({ port: 0 });
    let now = 1_000_000;
    let stop = () => before.stop();
    const source = new IssuerMetadataSource({}, before.caCertPem, () => now);
    const load = () =>
      new Promise<{ keys: Array<{ kid: string }> }>((resolve, reject) =>
        source.load({ metadataURL: before.metadataUrl }, (err, m) => (err ? reject(err) : resolve(m!.oidc as never))),
      );
    try {
      assert.deepEqual(
        (await load()).keys.map((k) => k.kid),
        [before.kid],
      );
      fs.rmSync(path.join(rotating, 'signing.key.pem'));
      const after = new DevIssuer({ stateDir: rotating }); // same CA and TLS, new signing key
      assert.notEqual(after.kid, before.kid);
      const port = before.port;
      await before.stop();
      await after.start({ port });
      stop = () => after.stop();
      assert.equal(source.evictIfStale(), false, 'keys fetched seconds ago are kept');
      assert.deepEqual(
        (await load()).keys.map((k) => k.kid),
        [before.kid],
      );
      now += 61_000;
      assert.equal(source.evictIfStale(), true);
      assert.deepEqual(
        (await load()).keys.map((k) => k.kid),
        [after.kid],
      );
    } finally {
      source.close();
      await stop();
    }
  });
});

describe('auth options', () => {
  const base: AuthOptions = {
    identityMetadataUrl: 'https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration',
    audience: 'api://portcullis',
    allowedIssuerTemplate: 'https://login.microsoftonline.com/{tenantid}/v2.0',
    clockSkewSeconds: 300,
    production: true,
  };
  const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

  it('production refuses the dev CA', () => {
    assert.throws(
      () => AuthModule.register({ ...base, extraTrustedCaPem: ca }),
      (e: unknown) => e instanceof AuthOptionsError && /extraTrustedCaPem is refused in production/.test(e.message),
    );
  });

  it('refuses http metadata, an issuer template without {tenantid}, an empty audience and a silly skew', () => {
    const cases: Array<[Partial<AuthOptions>, RegExp]> = [
      [
        { identityMetadataUrl: 'http://127.0.0.1:3443/common/v2.0/.well-known/openid-configuration' },
        /identityMetadataUrl must be an https URL/,
      ],
      [{ identityMetadataUrl: 'not a url' }, /identityMetadataUrl "not a url" is not a URL/],
      [
        { allowedIssuerTemplate: 'https://login.microsoftonline.com/common/v2.0' },
        /allowedIssuerTemplate must be an https URL containing \{tenantid\}/,
      ],
      [{ audience: ' ' }, /audience must not be empty/],
      [{ clockSkewSeconds: 3600 }, /clockSkewSeconds must be/],
      [{ production: false, extraTrustedCaPem: 'junk' }, /extraTrustedCaPem is not a PEM certificate/],
    ];
    for (const [override, message] of cases)
      assert.throws(() => AuthModule.register({ ...base, ...override }), message);
    assert.doesNotThrow(() => AuthModule.register(base));
  });

  it('production config points at Entra ID and trusts no dev CA; development config reads the dev CA from the state dir', () => {
    const prod = authOptionsFrom(loadConfig({ NODE_ENV: 'production' }));
    assert.equal(prod.production, true);
    assert.equal(prod.extraTrustedCaPem, undefined);
    assert.equal(prod.identityMetadataUrl, base.identityMetadataUrl);
    assert.equal(prod.allowedIssuerTemplate, base.allowedIssuerTemplate);

    const stateDir = tempStateDir('config');
    const issuer = new DevIssuer({ stateDir });
    const dev = authOptionsFrom(loadConfig({ NODE_ENV: 'development', DEV_ISSUER_STATE_DIR: stateDir }));
    assert.equal(dev.production, false);
    assert.equal(dev.extraTrustedCaPem, issuer.caCertPem);
    assert.equal(dev.identityMetadataUrl, 'https://127.0.0.1:3443/common/v2.0/.well-known/openid-configuration');
  });
});
