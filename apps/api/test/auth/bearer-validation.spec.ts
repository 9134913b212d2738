/**
 * Bearer tokens go through passport-azure-ad's BearerStrategy against a real dev issuer
 * (HTTPS metadata and JWKS): the production validation path, with tokens forged to fail
 * each check in turn. REST answers 401; GraphQL answers UNAUTHENTICATED.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { DevIssuer, type MintOptions } from '@portcullis/dev-issuer';
import { startAuthTestApp, tempStateDir, type AuthTestApp } from './auth-test-app';

describe('bearer token validation (REST and GraphQL)', () => {
  let t: AuthTestApp;
  const tenantId = randomUUID();
  const oid = randomUUID();
  const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

  before(async () => {
    const issuer = new DevIssuer({ stateDir: tempStateDir('auth') });
    await issuer.start({ port: 0 });
    t = await startAuthTestApp(issuer);
  });
  after(async () => {
    await t?.close();
    await t?.issuer.stop();
  });

  const mint = (o: Partial<MintOptions> = {}) =>
    t.issuer.mintToken({ tenantId, oid, name: 'Ada Lovelace', audience: t.options.audience, ...o });
  const rest = (authorization?: string) => {
    const req = request(t.app.getHttpServer()).get('/whoami');
    return authorization === undefined ? req : req.set('Authorization', authorization);
  };
  const gql = (authorization?: string) => {
    const req = request(t.app.getHttpServer()).post('/graphql').set('Content-Type', 'application/json');
    if (authorization !== undefined) req.set('Authorization', authorization);
    return req.send({ query: '{ caller { tenantId objectId name } }' });
  };

  it('a valid token is accepted and sets the identity from tid and oid', async () => {
    const res = await rest(`Bearer ${mint()}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.tenantId, tenantId);
    assert.equal(res.body.objectId, oid);
    assert.equal(res.body.name, 'Ada Lovelace');
    assert.equal(res.body.rawClaims.aud, t.options.audience);
    assert.equal(res.body.rawClaims.iss, `${t.issuer.url}/${tenantId}/v2.0`);
    assert.equal(res.body.rawClaims.ver, '2.0');
  });

  it('a valid token is accepted over GraphQL', async () => {
    const res = await gql(`Bearer ${mint()}`);
    assert.equal(res.body.errors, undefined, JSON.stringify(res.body));
    assert.deepEqual(res.body.data.caller, { tenantId, objectId: oid, name: 'Ada Lovelace' });
  });

  it('upper-case GUIDs in tid and oid give the same lower-case identity', async () => {
    const res = await rest(`Bearer ${mint({ tenantId: tenantId.toUpperCase(), oid: oid.toUpperCase() })}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.tenantId, tenantId);
    assert.equal(res.body.objectId, oid);
  });

  it('a token just past expiry or just before nbf, within the clock skew, is accepted', async () => {
    const late = await rest(
      `Bearer ${mint({ expiresInSeconds: -60, issuedAtOffsetSeconds: -3600, notBeforeOffsetSeconds: -3600 })}`,
    );
    assert.equal(late.status, 200, JSON.stringify(late.body));
    const early = await rest(`Bearer ${mint({ notBeforeOffsetSeconds: 60, expiresInSeconds: 3600 })}`);
    assert.equal(early.status, 200, JSON.stringify(early.body));
  });

  it('a @Public() route needs no token', async () => {
    const res = await request(t.app.getHttpServer()).get('/healthz');
    assert.equal(res.status, 200);
  });

  const reasons = new Map<string, string>();
  const rejected: Array<[string, () => string | undefined, RegExp]> = [
    ['missing header', () => undefined, /^a bearer token is required/],
    ['Bearer without a token', () => 'Bearer ', /must be "Bearer <token>"/],
    ['Basic scheme', () => 'Basic dXNlcjpwYXNz', /must be "Bearer <token>"/],
    ['two tokens', () => `Bearer ${mint()} ${mint()}`, /must be "Bearer <token>"/],
    ['not a JWT', () => 'Bearer not-a-jwt', /malformed: a JWT has three dot-separated parts/],
    ['bad base64', () => 'Bearer ab$c.de!f.ghi', /malformed: its parts are not base64url/],
    ['header not JSON', () => 'Bearer a.b.c', /malformed: its header is not a JSON object/],
    [
      'payload not JSON',
      () => `Bearer ${mint().split('.')[0]}.bm90IGpzb24.c2ln`,
      /malformed: its payload is not a JSON object/,
    ],
    [
      'expired',
      () => `Bearer ${mint({ expiresInSeconds: -3600, issuedAtOffsetSeconds: -7200, notBeforeOffsetSeconds: -7200 })}`,
      /^the bearer token expired at \d{4}-/,
    ],
    [
      'not yet valid (nbf beyond the skew)',
      () => `Bearer ${mint({ notBeforeOffsetSeconds: 3600, expiresInSeconds: 7200 })}`,
      /^the bearer token is not valid yet/,
    ],
    [
      'wrong audience',
      () => `Bearer ${mint({ audience: 'api://someone-else' })}`,
      /audience "api:\/\/someone-else" is not accepted/,
    ],
    ['several audiences', () => `Bearer ${mint({ audience: [t.options.audience, 'api://x'] })}`, /several audiences/],
    [
      'wrong issuer (foreign host)',
      () => `Bearer ${mint({ issuer: `https://login.example.com/${tenantId}/v2.0` })}`,
      /issuer "https:\/\/login\.example\.com\/.*" is not accepted/,
    ],
    [
      'wrong issuer (another tenant in iss)',
      () => `Bearer ${mint({ issuer: `${t.issuer.url}/${randomUUID()}/v2.0` })}`,
      /issuer ".*" is not accepted for tenant/,
    ],
    [
      'bad signature (published kid, another key)',
      () => `Bearer ${mint({ signingKey: otherKey, kid: t.issuer.kid })}`,
      /^the bearer token signature does not verify$/,
    ],
    [
      'tampered payload',
      () => `Bearer ${tamper(mint(), { oid: randomUUID() })}`,
      /^the bearer token signature does not verify$/,
    ],
    [
      'unknown kid',
      () => `Bearer ${mint({ signingKey: otherKey, kid: 'not-published' })}`,
      /key the issuer does not publish/,
    ],
    ['no kid', () => `Bearer ${withHeader(mint(), { alg: 'RS256', typ: 'JWT' })}`, /names no signing key/],
    [
      'alg none',
      () => `Bearer ${withHeader(mint(), { alg: 'none', typ: 'JWT', kid: t.issuer.kid })}`,
      /signed with none, which the issuer does not use/,
    ],
    ['tid that is not a GUID', () => `Bearer ${mint({ tenantId: 'contoso' })}`, /carries no tenant id \(tid\)/],
    // RFC 7515 §4.1.11: validly signed, but naming extensions the API does not understand
    [
      'crit header (signed)',
      () => `Bearer ${mint({ extraHeader: { crit: ['exp'], exp: 1 } })}`,
      /critical extensions \(crit\)/,
    ],
    [
      'crit header naming an unknown extension',
      () => `Bearer ${mint({ extraHeader: { crit: ['urn:example:bind'], 'urn:example:bind': true } })}`,
      /critical extensions \(crit\)/,
    ],
  ];
  for (const [name, header, reason] of rejected) {
    it(`${name} -> 401 UNAUTHENTICATED with a clear reason`, async () => {
      const res = await rest(header());
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.equal(res.body.code, 'UNAUTHENTICATED');
      assert.match(res.body.message, reason);
      reasons.set(name, res.body.message);
    });
  }

  it('missing, malformed, expired, not yet valid, wrong audience, wrong issuer, bad signature and unknown kid each get their own reason', () => {
    const kinds = [
      'missing header',
      'not a JWT',
      'expired',
      'not yet valid (nbf beyond the skew)',
      'wrong audience',
      'wrong issuer (foreign host)',
      'bad signature (published kid, another key)',
      'unknown kid',
    ];
    const messages = kinds.map((k) => reasons.get(k));
    assert.ok(
      messages.every((m) => typeof m === 'string'),
      'every kind was answered',
    );
    assert.equal(new Set(messages).size, kinds.length, messages.join('\n'));
  });

  it('GraphQL answers UNAUTHENTICATED with the same reason', async () => {
    const expired = await gql(
      `Bearer ${mint({ expiresInSeconds: -3600, issuedAtOffsetSeconds: -7200, notBeforeOffsetSeconds: -7200 })}`,
    );
    assert.equal(expired.body.errors?.length, 1, JSON.stringify(expired.body));
    assert.equal(expired.body.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.match(expired.body.errors[0].message, /expired at/);
    const missing = await gql();
    assert.equal(missing.body.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.match(missing.body.errors[0].message, /bearer token is required/);
  });

  it('the strategy checks the issuer itself and warns of nothing when it starts', () => {
    // with issuer validation off, passport-azure-ad prints "Production environments should
    // always validate the issuer." (bunyan, to stdout) once per process: a fresh one builds it
    const verifierModule = require.resolve('../../src/auth/bearer-token.verifier');
    const script = `require('reflect-metadata');
      const { BearerTokenVerifier } = require(${JSON.stringify(verifierModule)});
      new BearerTokenVerifier(${JSON.stringify({ ...t.options, extraTrustedCaPem: undefined, production: true })}).onModuleDestroy();`;
    const out = spawnSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      env: { ...process.env, NODE_ENV: 'production' },
    });
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout + out.stderr, '');
  });

  it('no answer and no log line ever contains a token', async () => {
    const tokens = [
      mint(),
      mint({ audience: 'api://nope' }),
      mint({ signingKey: otherKey, kid: 'nope' }),
      tamper(mint(), { tid: 'x' }),
    ];
    const answers: string[] = [];
    // passport-azure-ad logs with bunyan straight to stdout and stderr: listen there too
    const printed: string[] = [];
    const restore = [process.stdout, process.stderr].map((stream) => {
      const write = stream.write.bind(stream);
      stream.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
        printed.push(String(chunk));
        return write(chunk, ...rest);
      }) as typeof stream.write;
      return () => (stream.write = write);
    });
    try {
      for (const token of tokens) {
        answers.push(
          JSON.stringify((await rest(`Bearer ${token}`)).body),
          JSON.stringify((await gql(`Bearer ${token}`)).body),
        );
      }
    } finally {
      restore.forEach((undo) => undo());
    }
    const seen = [...answers, ...t.logs, ...printed].join('\n');
    for (const token of tokens) {
      for (const part of token.split('.'))
        assert.equal(seen.includes(part), false, 'a token part leaked into an answer or a log line');
    }
  });
});

function withHeader(token: string, header: Record<string, unknown>): string {
  const [, payload, signature] = token.split('.');
  return `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${payload}.${signature}`;
}

function tamper(token: string, claims: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const body = { ...(JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>), ...claims };
  return `${header}.${Buffer.from(JSON.stringify(body)).toString('base64url')}.${signature}`;
}
