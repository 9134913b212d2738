/**
 * What a stranger can do at the HTTP edge before any token is checked: grow the metrics,
 * hold connections by sending slowly, read the schema from error suggestions, widen a
 * substring filter with wildcards, slip a lax number past a parameter check. Every app
 * here is built by createApiApp, as production builds it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { DEVELOPMENT_KEY_MARKER, generateSigningKey, loadKeyring } from '@portcullis/bundle';
import { loadConfig, type AppConfig } from '@portcullis/config';
import { createApiApp } from '../../src/bootstrap';
import { clusterIn, data } from '../inventory/support';
import { NO_DB_REASON, startApi, testDatabaseConfigured, type ApiHarness } from '@portcullis/testing';

const skip = testDatabaseConfigured ? false : NO_DB_REASON;

/** Series of a metric family in Prometheus text: one line per label set. */
function seriesLines(text: string, sample: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${sample}{`));
}
const seriesOf = (text: string, sample: string): number => seriesLines(text, sample).length;

describe('HTTP edge: metrics, headers, parameters, filters', { skip }, () => {
  let h: ApiHarness;
  let tenant: { tenantId: string; ownerId: string; ownerToken: string };
  before(async () => {
    h = await startApi();
    tenant = await h.onboard('Edge');
  });
  after(async () => h?.close());

  const metricsText = async () => (await h.http().get('/metrics').expect(200)).text;
  const HTTP_SERIES = 'portcullis_api_http_request_duration_seconds_count';
  const GQL_SERIES = 'portcullis_api_graphql_operations_total';

  it('distinct unknown paths add no /metrics series: they share the route label "unmatched"', async () => {
    await h.http().get(`/no-such-${randomUUID()}`).expect(404);
    await h.http().post(`/no-such-${randomUUID()}`).send({}).expect(404);
    await metricsText(); // its own series appears once it has answered
    const before = seriesOf(await metricsText(), HTTP_SERIES);
    for (let i = 0; i < 40; i++) await h.http().get(`/probe/${randomUUID()}/${i}`).expect(404);
    for (let i = 0; i < 10; i++) await h.http().post(`/x${i}`).send({}).expect(404);
    const text = await metricsText();
    assert.equal(
      seriesOf(text, HTTP_SERIES),
      before,
      `a series per unknown path:\n${seriesLines(text, HTTP_SERIES).join('\n')}`,
    );
    assert.match(
      text,
      /portcullis_api_http_request_duration_seconds_count\{method="GET",route="unmatched",status="4xx"\}/,
    );
    assert.equal(text.includes('/probe/'), false);
  });

  it('known routes are labelled with their template, GraphQL with its path', async () => {
    await h.http().get('/healthz').expect(200);
    await h.gql(tenant.ownerToken, '{ me { tenantId } }');
    const lines = seriesLines(await metricsText(), HTTP_SERIES).join('\n');
    assert.match(
      lines,
      /portcullis_api_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="2xx"\}/,
    );
    assert.match(
      lines,
      /portcullis_api_http_request_duration_seconds_count\{method="POST",route="\/graphql",status="2xx"\}/,
    );
  });

  it('GraphQL operations are counted by schema root field; client-chosen names and unknown fields add no series', async () => {
    await h.gql(tenant.ownerToken, 'query Mine { me { tenantId } }');
    await h.gql(undefined, `query Op${randomUUID().replace(/-/g, '')} { nope${randomUUID().slice(0, 8)} }`);
    await h.gql(undefined, 'query Anonymous { me { tenantId } }');
    const before = await metricsText();
    assert.match(before, /portcullis_api_graphql_operations_total\{operation="me",outcome="ok"\} \d+/);
    const beforeCount = seriesOf(before, GQL_SERIES);
    for (let i = 0; i < 25; i++) {
      const name = `Op${randomUUID().replace(/-/g, '')}`;
      await h.gql(tenant.ownerToken, `query ${name} { me { tenantId } }`);
      await h.gql(undefined, `query ${name} { unknownField${i} }`);
      await h.gql(undefined, `query ${name} { me { tenantId } }`);
    }
    const after = await metricsText();
    assert.equal(
      seriesOf(after, GQL_SERIES),
      beforeCount,
      `a series per operation name or unknown field:\n${seriesLines(after, GQL_SERIES).join('\n')}`,
    );
    assert.equal(after.includes('unknownField'), false);
    assert.equal(/operation="Op/.test(after), false);
    assert.match(after, /portcullis_api_graphql_operations_total\{operation="me",outcome="UNAUTHENTICATED"\} \d+/);
  });

  for (const [what, send] of [
    ['a health probe', () => h.http().get('/healthz')],
    ['an unknown path (404)', () => h.http().get(`/nothing-${randomUUID()}`)],
    [
      'GraphQL',
      () => h.http().post('/graphql').set('Content-Type', 'application/json').send({ query: '{ me { tenantId } }' }),
    ],
    ['a refused agent request (401)', () => h.http().get('/agent/v1/bundle')],
    [
      'a body over the limit (413)',
      () =>
        h
          .http()
          .post('/graphql')
          .set('Content-Type', 'application/json')
          .send({ query: 'x'.repeat(h.config.requestBodyLimitBytes + 10) }),
    ],
  ] as const) {
    it(`security headers on ${what}`, async () => {
      const res = await send();
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      // NODE_ENV=test over plain HTTP: no HSTS (production sends it, see below)
      assert.equal(res.headers['strict-transport-security'], undefined);
    });
  }

  describe('agent bundle long poll: waitSeconds is decimal digits only', () => {
    let cluster: { id: string; token: string };
    before(async () => {
      const scope = data(
        await h.gql<{ createCloudScope: { id: string } }>(
          tenant.ownerToken,
          'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "123456789012", displayName: "edge" }) { id } }',
        ),
      ).createCloudScope;
      cluster = await clusterIn(h, tenant.ownerToken, scope.id, 'edge-poll');
    });
    for (const value of ['0x10', '1e1', '+5', ' 5', '5 ', '0b11', '0o7', '5.0', '-1', '61', 'Infinity', '12abc', '']) {
      it(`waitSeconds=${JSON.stringify(value)} ${value === '' ? 'is no wait' : 'is 400 naming the parameter'}`, async () => {
        const res = await h
          .http()
          .get('/agent/v1/bundle')
          .query({ waitSeconds: value })
          .set('Authorization', `Bearer ${cluster.token}`);
        if (value === '') {
          assert.equal(res.status, 404, JSON.stringify(res.body)); // no bundle compiled yet, answered at once
          return;
        }
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.code, 'BAD_USER_INPUT');
        assert.equal(res.body.field, 'waitSeconds');
        assert.match(res.body.message, /waitSeconds must be a whole number of seconds/);
      });
    }
    it('waitSeconds=0 and =1 are read as written', async () => {
      const res = await h.http().get('/agent/v1/bundle?waitSeconds=0').set('Authorization', `Bearer ${cluster.token}`);
      assert.equal(res.status, 404, JSON.stringify(res.body));
      const waited = await h
        .http()
        .get('/agent/v1/bundle?waitSeconds=1')
        .set('Authorization', `Bearer ${cluster.token}`);
      assert.equal(waited.status, 404, JSON.stringify(waited.body));
    });
  });

  describe('substring filters match % and _ literally', () => {
    before(async () => {
      for (const [externalId, displayName] of [
        ['210987654321', '100% compliant'],
        ['310987654321', '1000 compliant'],
        ['410987654321', 'prod_eu'],
        ['510987654321', 'prodXeu'],
        ['610987654321', 'back\\slash'],
      ]) {
        data(
          await h.gql(
            tenant.ownerToken,
            'mutation($i: CreateCloudScopeInput!) { createCloudScope(input: $i) { id } }',
            { i: { provider: 'AWS_ACCOUNT', externalId, displayName } },
          ),
        );
      }
    });
    const search = async (text: string) =>
      data(
        await h.gql<{ cloudScopes: { edges: Array<{ node: { displayName: string } }> } }>(
          tenant.ownerToken,
          'query($f: CloudScopeFilter) { cloudScopes(filter: $f, first: 50) { edges { node { displayName } } } }',
          { f: { search: text } },
        ),
      )
        .cloudScopes.edges.map((e) => e.node.displayName)
        .sort();
    it('"0%" finds the name with a percent sign, not every name with a 0 in it', async () => {
      assert.deepEqual(await search('0%'), ['100% compliant']);
    });
    it('"_" finds only names with an underscore', async () => {
      assert.deepEqual(await search('d_e'), ['prod_eu']);
      assert.deepEqual(await search('_'), ['prod_eu']);
    });
    it('"%" alone finds only names with a percent sign, and a backslash is a backslash', async () => {
      assert.deepEqual(await search('%'), ['100% compliant']);
      assert.deepEqual(await search('k\\s'), ['back\\slash']);
      assert.deepEqual(await search('\\'), ['back\\slash']);
    });
    it('cluster search and policy name filter escape them too', async () => {
      const scope = data(
        await h.gql<{ createCloudScope: { id: string } }>(
          tenant.ownerToken,
          'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "710987654321", displayName: "clusters" }) { id } }',
        ),
      ).createCloudScope;
      await clusterIn(h, tenant.ownerToken, scope.id, 'web-1');
      await clusterIn(h, tenant.ownerToken, scope.id, 'web-2');
      const clusters = async (text: string) =>
        data(
          await h.gql<{ clusters: { edges: Array<{ node: { name: string } }> } }>(
            tenant.ownerToken,
            'query($f: ClusterFilter) { clusters(filter: $f, first: 50) { edges { node { name } } } }',
            { f: { search: text } },
          ),
        )
          .clusters.edges.map((e) => e.node.name)
          .sort();
      assert.deepEqual(await clusters('web-'), ['web-1', 'web-2']);
      assert.deepEqual(await clusters('web_'), [], 'cluster names cannot hold "_", so none contains it');
      assert.deepEqual(await clusters('%'), []);
      const policies = async (name?: string) =>
        data(
          await h.gql<{ policies: { edges: Array<{ node: { name: string } }> } }>(
            tenant.ownerToken,
            'query($f: PolicyFilter) { policies(filter: $f, first: 50) { edges { node { name } } } }',
            { f: name === undefined ? {} : { name } },
          ),
        ).policies.edges.map((e) => e.node.name);
      const all = await policies();
      assert.ok(
        all.length > 0 && all.every((n) => !n.includes('%') && !n.includes('_')),
        `onboarding gives the tenant policies to filter: ${all.join(', ')}`,
      );
      assert.deepEqual(await policies('%'), []);
      assert.deepEqual(await policies('_'), []);
    });
  });
});

describe('HTTP edge: slow clients are cut, long polls are not', { skip }, () => {
  let h: ApiHarness;
  let port: number;
  before(async () => {
    h = await startApi({ HTTP_HEADERS_TIMEOUT_MS: '400', HTTP_REQUEST_TIMEOUT_MS: '800' });
    const server = h.app.getHttpServer() as Server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => h?.close());

  /**
   * Writes `head`, then one byte of `trickle` per tick until the server answers or closes. A byte
   * that crosses the server's close makes the kernel reset the connection, which may discard the
   * 408 before it is read: `reset` says the server cut it that way.
   */
  function trickle(
    head: string,
    body: string,
    everyMs: number,
  ): Promise<{ answer: string; bytesSent: number; closed: boolean; reset: boolean }> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      let sent = 0;
      let timer: NodeJS.Timeout | undefined;
      socket.on('connect', () => {
        socket.write(head);
        timer = setInterval(() => {
          if (sent < body.length && !socket.destroyed) socket.write(body[sent++]!);
        }, everyMs);
      });
      socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
      let reset = false;
      socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? (reset = true) : reject(err)));
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ answer, bytesSent: sent, closed: true, reset });
      });
    });
  }

  it('a body trickled byte by byte is answered 408 and the connection closed before the body is complete', async () => {
    const body = JSON.stringify({ query: '{ me { tenantId } }' });
    const r = await trickle(
      `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
      100,
    );
    assert.ok(
      /^HTTP\/1\.1 408 /.test(r.answer) || (r.reset && r.answer === ''),
      `answered: ${JSON.stringify(r.answer.slice(0, 80))}`,
    );
    assert.ok(r.closed);
    assert.ok(r.bytesSent < body.length, `the whole body (${r.bytesSent} bytes) was accepted`);
  });

  it('headers trickled byte by byte are answered 408 and the connection closed', async () => {
    const head =
      'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n';
    const r = await trickle('', head, 50);
    assert.ok(
      /^HTTP\/1\.1 408 /.test(r.answer) || (r.reset && r.answer === ''),
      `answered: ${JSON.stringify(r.answer.slice(0, 80))}`,
    );
    assert.ok(r.closed);
    assert.ok(r.bytesSent < head.length, 'the whole request head was accepted');
  });

  it('a bundle long poll held longer than the request deadline is answered, not cut', async () => {
    const tenant = await h.onboard('Edge poll');
    const scope = data(
      await h.gql<{ createCloudScope: { id: string } }>(
        tenant.ownerToken,
        'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "123456789013", displayName: "poll" }) { id } }',
      ),
    ).createCloudScope;
    const cluster = await clusterIn(h, tenant.ownerToken, scope.id, 'poll');
    // waits the full 2 s (no bundle is ever compiled here), over twice the 800 ms request deadline
    const res = await request(`http://127.0.0.1:${port}`)
      .get('/agent/v1/bundle?waitSeconds=2')
      .set('Authorization', `Bearer ${cluster.token}`);
    assert.equal(res.status, 404, JSON.stringify(res.body));
    assert.match(res.body.message, /no bundle has been compiled/);
  });
});

describe('production mode', { skip }, () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-edge-'));
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  function productionConfig(keysDir: string): AppConfig {
    return loadConfig({
      ...process.env,
      NODE_ENV: 'production',
      DEV_ISSUER_ENABLED: '',
      AUTH_METADATA_URL: '',
      AUTH_ISSUER_TEMPLATE: '',
      BUNDLE_SIGNING_KEYS_DIR: keysDir,
    });
  }

  it('a start with a key a development start generated fails, naming the file and what to do', async () => {
    const devDir = path.join(root, 'dev-keys');
    loadKeyring(devDir, { generateIfEmpty: true }); // what `npm start` does outside production
    const [file] = fs.readdirSync(devDir);
    assert.ok(fs.readFileSync(path.join(devDir, file!), 'utf8').startsWith(DEVELOPMENT_KEY_MARKER));
    const app = await createApiApp(productionConfig(devDir), { schemaFile: false });
    await assert.rejects(app.init(), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(
          `${path.join(devDir, file!).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is a signing key a development start generated`,
        ),
      );
      assert.match(e.message, /Put the production Ed25519 private key \(PEM\) in its place/);
      return true;
    });
    await app.close().catch(() => undefined);
  });

  describe('with a production key', () => {
    let app: Awaited<ReturnType<typeof createApiApp>>;
    before(async () => {
      const keysDir = path.join(root, 'prod-keys');
      fs.mkdirSync(keysDir);
      fs.writeFileSync(
        path.join(keysDir, '2026-01-01.pem'),
        generateSigningKey().privateKey.export({ type: 'pkcs8', format: 'pem' }),
        { mode: 0o600 },
      );
      app = await createApiApp(productionConfig(keysDir), { schemaFile: false });
      await app.init();
    });
    after(async () => app?.close());
    const gql = (query: string, variables?: Record<string, unknown>) =>
      request(app.getHttpServer()).post('/graphql').set('Content-Type', 'application/json').send({ query, variables });

    it('a misspelt field gets no "Did you mean" (the schema is not spelt out through errors)', async () => {
      const res = await gql('{ polices { totalCount } }');
      const message: string = res.body.errors[0].message;
      assert.match(message, /Cannot query field "polices" on type "Query"\.$/);
      assert.equal(/did you mean/i.test(JSON.stringify(res.body)), false, JSON.stringify(res.body));
    });

    it('a misspelt input field in variables gets no suggestion either', async () => {
      const res = await gql('mutation($i: CreateCloudScopeInput!) { createCloudScope(input: $i) { id } }', {
        i: { provider: 'AWS_ACCOUNT', externalId: '123456789012', displayNam: 'x' },
      });
      assert.ok(res.body.errors?.length, JSON.stringify(res.body));
      assert.equal(/did you mean/i.test(JSON.stringify(res.body)), false, JSON.stringify(res.body));
      assert.match(res.body.errors[0].message, /displayNam/);
    });

    it('HSTS is sent: production is served behind TLS', async () => {
      const res = await request(app.getHttpServer()).get('/healthz').expect(200);
      assert.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    });
  });

  it('outside production the suggestion stays (developers want it)', async () => {
    const h = await startApi();
    try {
      const res = await h.gql(undefined, '{ polices { totalCount } }');
      assert.match(res.errors![0]!.message, /Did you mean "policies"/);
      const vars = await h.gql(
        undefined,
        'mutation($i: CreateCloudScopeInput!) { createCloudScope(input: $i) { id } }',
        { i: { provider: 'AWS_ACCOUNT', externalId: '123456789012', displayNam: 'x' } },
      );
      assert.match(vars.errors![0]!.message, /Did you mean "displayName"\?/);
    } finally {
      await h.close();
    }
  });
});
