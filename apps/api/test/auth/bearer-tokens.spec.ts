/**
 * Token validation goes through passport-azure-ad's BearerStrategy against the dev
 * issuer's published metadata and keys: the production path, with tokens forged to
 * fail each check in turn.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { MintOptions } from '@portcullis/dev-issuer';
import { NO_DB_REASON, onlyError, startApi, testDatabaseConfigured, type ApiHarness } from '@portcullis/testing';

describe('bearer token validation', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let tenant: { tenantId: string; ownerId: string; ownerToken: string };
  const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

  before(async () => {
    h = await startApi();
    tenant = await h.onboard('Tokens');
  });
  after(async () => h?.close());

  const me = (authorization?: string) => {
    const req = h.http().post('/graphql').set('Content-Type', 'application/json');
    if (authorization !== undefined) req.set('Authorization', authorization);
    return req.send({ query: '{ me { objectId } }' });
  };
  const mint = (o: Partial<MintOptions> = {}) =>
    h.issuer.mintToken({ tenantId: tenant.tenantId, oid: tenant.ownerId, audience: h.config.auth.audience, ...o });

  it('a valid token is accepted', async () => {
    const res = await me(`Bearer ${mint()}`);
    assert.equal(res.body.errors, undefined, JSON.stringify(res.body));
    assert.equal(res.body.data.me.objectId, tenant.ownerId);
  });

  it('a token a little past expiry, within the clock skew, is accepted', async () => {
    const res = await me(
      `Bearer ${mint({ expiresInSeconds: -60, issuedAtOffsetSeconds: -3600, notBeforeOffsetSeconds: -3600 })}`,
    );
    assert.equal(res.body.errors, undefined, JSON.stringify(res.body));
  });

  const rejected: Array<[string, () => string | undefined, RegExp]> = [
    ['missing', () => undefined, /bearer token is required/],
    ['empty bearer', () => 'Bearer ', /must be "Bearer <token>"/],
    ['Basic scheme', () => 'Basic dXNlcjpwYXNz', /must be "Bearer <token>"/],
    ['not a JWT', () => 'Bearer not-a-jwt', /malformed/],
    ['garbage JWT', () => 'Bearer a.b.c', /malformed/],
    [
      'expired',
      () => `Bearer ${mint({ expiresInSeconds: -3600, issuedAtOffsetSeconds: -7200, notBeforeOffsetSeconds: -7200 })}`,
      /expired/,
    ],
    [
      'not yet valid',
      () => `Bearer ${mint({ notBeforeOffsetSeconds: 3600, expiresInSeconds: 7200 })}`,
      /not valid yet/,
    ],
    [
      'wrong audience',
      () => `Bearer ${mint({ audience: 'api://someone-else' })}`,
      /audience "api:\/\/someone-else" is not accepted/,
    ],
    [
      'wrong issuer (foreign)',
      () => `Bearer ${mint({ issuer: 'https://login.example.com/x/v2.0' })}`,
      /issuer ".*" is not accepted/,
    ],
    [
      'wrong issuer (another tenant in iss)',
      () => `Bearer ${mint({ issuer: `${h.issuer.url}/${randomUUID()}/v2.0` })}`,
      /is not accepted for tenant/,
    ],
    [
      'bad signature (published kid, another key)',
      () => `Bearer ${mint({ signingKey: otherKey, kid: kidOf(mint()) })}`,
      /signature does not verify/,
    ],
    [
      'unknown kid',
      () => `Bearer ${mint({ signingKey: otherKey, kid: 'not-published' })}`,
      /key the issuer does not publish/,
    ],
  ];
  for (const [name, header, reason] of rejected) {
    it(`${name} -> UNAUTHENTICATED with a clear reason`, async () => {
      const res = await me(header());
      const e = onlyError(res.body);
      assert.equal(e.code, 'UNAUTHENTICATED');
      assert.match(e.message, reason);
    });
  }

  it('a valid token of a tenant that is not onboarded -> UNAUTHENTICATED saying so', async () => {
    const stranger = randomUUID();
    const e = onlyError((await me(`Bearer ${mint({ tenantId: stranger })}`)).body);
    assert.equal(e.code, 'UNAUTHENTICATED');
    assert.match(e.message, /is not onboarded/);
  });

  it('a disabled tenant -> UNAUTHENTICATED', async () => {
    const t = await h.onboard();
    await h.prisma.tenant.update({ where: { id: t.tenantId }, data: { status: 'DISABLED' } });
    const e = onlyError(await h.gql(t.ownerToken, '{ me { objectId } }'));
    assert.equal(e.code, 'UNAUTHENTICATED');
    assert.match(e.message, /disabled/);
  });
});

function kidOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
}
