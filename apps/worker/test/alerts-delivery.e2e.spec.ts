/**
 * Alert delivery end to end: GraphQL destinations -> dispatch -> BullMQ `alerts` queue ->
 * worker -> real HTTPS receivers on loopback (TLS from testTls, trusted through
 * ALERTS_EXTRA_CA_FILE). Signed webhook (Standard Webhooks, verified with the secret shown
 * once, both secrets during a rotation's overlap), Slack- and Teams-shaped bodies, SIEM NDJSON
 * CloudEvents; a receiver down at first gets every alert once after it recovers; one answering
 * 500 forever ends DEAD in the delivery log; redirects are never followed; with private
 * destinations refused (production's rule) loopback, private and rebinding names are refused
 * at save time and at connect time.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { INestApplicationContext } from '@nestjs/common';
import { Redis } from 'ioredis';
import {
  SecretBox,
  alertsQueue,
  destinationAad,
  dispatchAlert,
  verifyWebhook,
  type Alert,
  type AlertsQueue,
} from '@portcullis/alerts';
import { SqlPool } from '@portcullis/db';
import {
  NO_DB_REASON,
  eventually,
  onlyError,
  startApi,
  startWorker,
  tempDir,
  testDatabaseConfigured,
  testTls,
  type ApiHarness,
  type GqlResult,
} from '@portcullis/testing';

/**
 * Its own Redis prefix: every worker of the run consumes the `alerts` queue under the shared
 * one, and another spec's worker (without this spec's receiver CA or its private-address
 * allowance) would take these deliveries.
 */
const ownRedisPrefix = (): string =>
  `${process.env['REDIS_PREFIX'] ?? 'portcullis-test'}-alert-delivery-${randomUUID().slice(0, 8)}`;

interface Received {
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly answered: number;
  readonly at: number;
}

/** A loopback HTTPS receiver: records every request; `answer` decides each status. */
class Receiver {
  readonly requests: Received[] = [];
  answer: (path: string, nth: number) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 });
  private server: https.Server;
  port = 0;

  constructor(private readonly tls: { certPem: string; keyPem: string }) {
    this.server = this.make();
  }

  private make(): https.Server {
    return https.createServer({ cert: this.tls.certPem, key: this.tls.keyPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const p = req.url ?? '/';
        const nth = this.requests.filter((r) => r.path === p).length;
        const a = this.answer(p, nth);
        this.requests.push({
          at: Date.now(),
          path: p,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          answered: a.status,
        });
        res.writeHead(a.status, a.headers ?? {});
        res.end('ok');
      });
    });
  }

  async listen(port = 0): Promise<number> {
    this.server = this.server.listening ? this.server : this.make();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  at(p: string): Received[] {
    return this.requests.filter((r) => r.path === p);
  }
}

const header = (r: Received, name: string) => String(r.headers[name] ?? '');

async function ok<T>(r: Promise<GqlResult<T>>): Promise<T> {
  const res = await r;
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  return res.data as T;
}

const CREATE = `mutation($i: CreateAlertDestinationInput!) {
  createAlertDestination(input: $i) { destination { id name kind urlHost tokenHeader rateLimitPerMinute } secret } }`;
const LOG = `query($f: AlertDeliveryFilter) { alertDeliveries(first: 100, filter: $f) { totalCount edges { node {
  id alertId alertKind title destinationId destinationName status attempts lastHttpStatus lastError deliveredAt deadAt nextAttemptAt } } } }`;

interface LogRow {
  id: string;
  alertId: string;
  alertKind: string;
  status: string;
  attempts: number;
  lastHttpStatus: number | null;
  lastError: string | null;
  destinationName: string;
}

describe('alert delivery', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  const tls = testTls();
  const caFile = path.join(tempDir('portcullis-alerts-'), 'receivers-ca.pem');
  fs.writeFileSync(caFile, tls.caPem);
  const receiver = new Receiver(tls);
  let h: ApiHarness;
  let worker: INestApplicationContext;
  let owner: string;
  let tenantId: string;
  let scope: string;
  let cluster: string;
  let pool: SqlPool;
  let redis: Redis;
  let queue: AlertsQueue;

  before(async () => {
    await receiver.listen();
    h = await startApi({
      REDIS_PREFIX: ownRedisPrefix(),
      ALERTS_ALLOW_PRIVATE_DESTINATIONS: 'true',
      ALERTS_EXTRA_CA_FILE: caFile,
      ALERTS_DELIVERY_ATTEMPTS: '5',
      ALERTS_BACKOFF_BASE_MS: '150',
      ALERTS_BACKOFF_MAX_MS: '600',
      ALERTS_SIEM_BATCH_MS: '300',
      ALERTS_RATE_LIMIT_PER_MINUTE: '6000',
      LOG_LEVEL: 'silent',
    });
    worker = await startWorker(h.config);
    const t = await h.onboard('Alerts');
    owner = t.ownerToken;
    tenantId = t.tenantId;
    scope = (
      await ok<{ createCloudScope: { id: string } }>(
        h.gql(
          owner,
          'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "271828182845", displayName: "alerts" }) { id } }',
        ),
      )
    ).createCloudScope.id;
    cluster = (
      await ok<{ registerCluster: { cluster: { id: string } } }>(
        h.gql(
          owner,
          `mutation { registerCluster(input: { cloudScopeId: "${scope}", name: "alerts-prod", distribution: EKS }) { cluster { id } } }`,
        ),
      )
    ).registerCluster.cluster.id;
    pool = new SqlPool({ databaseUrl: h.config.databaseUrl, max: 2 });
    redis = new Redis(h.config.redisUrl);
    queue = alertsQueue(redis, h.config.redisPrefix);
  });
  after(async () => {
    await worker?.close();
    await queue?.close();
    redis?.disconnect();
    await pool?.end();
    await h?.close();
    await receiver.close();
  });

  const url = (p: string, port = receiver.port) => `https://127.0.0.1:${port}${p}`;

  async function destination(kind: string, p: string, extra: Record<string, unknown> = {}, port?: number) {
    const d = await ok<{
      createAlertDestination: { destination: { id: string; urlHost: string }; secret: string | null };
    }>(h.gql(owner, CREATE, { i: { name: `${kind}-${randomUUID().slice(0, 8)}`, kind, url: url(p, port), ...extra } }));
    return {
      id: d.createAlertDestination.destination.id,
      secret: d.createAlertDestination.secret,
      urlHost: d.createAlertDestination.destination.urlHost,
    };
  }

  async function log(filter: Record<string, unknown>): Promise<LogRow[]> {
    const d = await ok<{ alertDeliveries: { edges: Array<{ node: LogRow }> } }>(h.gql(owner, LOG, { f: filter }));
    return d.alertDeliveries.edges.map((e) => e.node);
  }

  function blockDenial(): Alert {
    return {
      id: randomUUID(),
      tenantId,
      ruleId: null,
      ruleName: null,
      kind: 'BLOCK_DENIAL',
      severity: 'HIGH',
      title: 'Blocked: Deployment payments/api runs a privileged container',
      summary:
        'Policy "restricted-prod" (BLOCK) rule privileged-container denied Deployment payments/api: container app sets privileged: true. Fix: remove securityContext.privileged.',
      occurredAt: new Date().toISOString(),
      count: 1,
      cloudScopeId: scope,
      cluster: { id: cluster, name: 'alerts-prod' },
      namespace: 'payments',
      workload: { kind: 'Deployment', name: 'api' },
      policy: { id: randomUUID(), name: 'restricted-prod', action: 'BLOCK' },
      rule: 'privileged-container',
      decision: 'DENY',
    };
  }

  const dispatch = (alert: Alert, destinationIds: string[]) =>
    dispatchAlert({ db: { pool }, queue, retry: h.config.alerts.delivery }, alert, destinationIds);

  it('a TEST alert reaches a signed webhook; the signature verifies with the secret shown once', async () => {
    const d = await destination('WEBHOOK', '/signed');
    assert.match(d.secret ?? '', /^whsec_[A-Za-z0-9+/]+=*$/);
    assert.equal(d.urlHost, `127.0.0.1:${receiver.port}/…`, 'lists show the host, never the path');
    const sent = await ok<{ sendTestAlert: { alertId: string; status: string } }>(
      h.gql(owner, 'mutation($d: ID!) { sendTestAlert(destinationId: $d) { alertId status } }', { d: d.id }),
    );
    assert.equal(sent.sendTestAlert.status, 'QUEUED');
    const r = await eventually('the test alert at the receiver', () => receiver.at('/signed')[0]);
    assert.equal(header(r, 'webhook-id'), sent.sendTestAlert.alertId);
    assert.equal(header(r, 'content-type'), 'application/json');
    const sig = {
      id: header(r, 'webhook-id'),
      timestamp: header(r, 'webhook-timestamp'),
      signature: header(r, 'webhook-signature'),
    };
    assert.ok(verifyWebhook(d.secret!, sig, r.body), 'verifies with the shown secret');
    assert.ok(!verifyWebhook(d.secret!, sig, r.body.replace('TEST', 'BLOCK')), 'a changed body does not verify');
    const body = JSON.parse(r.body) as { type: string; data: Alert };
    assert.equal(body.type, 'alert.test');
    assert.equal(body.data.kind, 'TEST');
    const row = await eventually('DELIVERED in the log', async () =>
      (await log({ destinationId: d.id })).find((x) => x.status === 'DELIVERED'),
    );
    assert.equal(row.attempts, 1);
    assert.equal(row.lastHttpStatus, 200);
  });

  it('a BLOCK_DENIAL reaches a webhook, Slack, Teams and the SIEM stream, once each even when dispatched twice', async () => {
    const web = await destination('WEBHOOK', '/web');
    const slack = await destination('SLACK', '/services/T000/B000/XXXXsecretpath');
    const teams = await destination('TEAMS', '/workflows/teams-secret');
    const siem = await destination('SIEM', '/siem', { tokenHeader: 'Authorization', token: 'Bearer siem-token-123' });
    const alerts = [blockDenial(), blockDenial(), blockDenial()];
    const ids = [web.id, slack.id, teams.id, siem.id];
    for (const a of alerts) await dispatch(a, ids);
    for (const a of alerts) await dispatch(a, ids); // the same alert again: nothing more is sent
    await eventually(
      'every delivery DELIVERED',
      async () => (await log({ kind: 'BLOCK_DENIAL' })).filter((x) => x.status === 'DELIVERED').length === 12,
      30_000,
    );

    const webReqs = receiver.at('/web');
    assert.deepEqual(webReqs.map((r) => header(r, 'webhook-id')).sort(), alerts.map((a) => a.id).sort());
    for (const r of webReqs) {
      const sig = {
        id: header(r, 'webhook-id'),
        timestamp: header(r, 'webhook-timestamp'),
        signature: header(r, 'webhook-signature'),
      };
      assert.ok(verifyWebhook(web.secret!, sig, r.body));
      assert.equal((JSON.parse(r.body) as { data: Alert }).data.policy?.name, 'restricted-prod');
    }

    const slackReqs = receiver.at('/services/T000/B000/XXXXsecretpath');
    assert.equal(slackReqs.length, 3);
    for (const r of slackReqs) {
      const b = JSON.parse(r.body) as { text: string; blocks: Array<{ type: string }> };
      assert.match(b.text, /^\[HIGH\] Blocked: Deployment payments\/api/);
      assert.deepEqual(
        b.blocks.map((x) => x.type),
        ['header', 'section', 'section', 'context'],
      );
      assert.equal(r.headers['webhook-signature'], undefined, 'Slack gets no signature headers');
    }

    const teamsReqs = receiver.at('/workflows/teams-secret');
    assert.equal(teamsReqs.length, 3);
    for (const r of teamsReqs) {
      const b = JSON.parse(r.body) as {
        type: string;
        attachments: Array<{
          contentType: string;
          content: { type: string; version: string; body: Array<{ type: string; text?: string }> };
        }>;
      };
      assert.equal(b.type, 'message');
      assert.equal(b.attachments[0]!.contentType, 'application/vnd.microsoft.card.adaptive');
      assert.equal(b.attachments[0]!.content.type, 'AdaptiveCard');
      assert.match(b.attachments[0]!.content.body[0]!.text!, /^Blocked: /);
    }

    const siemReqs = receiver.at('/siem');
    assert.ok(siemReqs.length >= 1 && siemReqs.length <= 3, `batched: ${siemReqs.length} requests`);
    const events = siemReqs.flatMap((r) => {
      assert.equal(header(r, 'content-type'), 'application/x-ndjson');
      assert.equal(header(r, 'authorization'), 'Bearer siem-token-123');
      assert.ok(r.body.endsWith('\n'));
      return r.body
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    });
    assert.deepEqual(events.map((e) => e['id']).sort(), alerts.map((a) => a.id).sort());
    for (const e of events) {
      assert.equal(e['specversion'], '1.0');
      assert.equal(e['type'], 'dev.portcullis.alert.block_denial');
      assert.equal(e['source'], `/portcullis/tenants/${tenantId}`);
      assert.equal(e['subject'], 'alerts-prod/payments/Deployment/api');
      assert.equal(e['datacontenttype'], 'application/json');
      assert.equal((e['data'] as Alert).rule, 'privileged-container');
    }
  });

  it("dispatched inside a caller's transaction: delivered once after the commit, nothing after a rollback", async () => {
    const d = await destination('WEBHOOK', '/in-tx');
    const committed = blockDenial();
    await pool.inTenant(tenantId, async (client) => {
      await dispatchAlert({ db: { client }, queue, retry: h.config.alerts.delivery }, committed, [d.id]);
      // the job is on the queue while the row is not yet visible to the worker
      await new Promise((r) => setTimeout(r, 700));
    });
    const rolledBack = blockDenial();
    await assert.rejects(
      pool.inTenant(tenantId, async (client) => {
        await dispatchAlert({ db: { client }, queue, retry: h.config.alerts.delivery }, rolledBack, [d.id]);
        throw new Error('the caller fails after dispatching');
      }),
      /the caller fails/,
    );
    const row = await eventually('DELIVERED', async () => (await log({ destinationId: d.id, status: 'DELIVERED' }))[0]);
    assert.equal(row.alertId, committed.id);
    assert.equal(row.attempts, 1, 'waiting for the commit spent no attempt');
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      receiver.at('/in-tx').map((r) => header(r, 'webhook-id')),
      [committed.id],
      'the rolled-back alert was never sent',
    );
    assert.equal((await log({ destinationId: d.id })).length, 1);
  });

  it('after a rotation both secrets verify during the overlap', async () => {
    const d = await destination('WEBHOOK', '/rotated');
    const rotated = await ok<{
      rotateAlertDestinationSecret: { secret: string; destination: { previousSecretExpiresAt: string } };
    }>(
      h.gql(
        owner,
        'mutation($id: ID!) { rotateAlertDestinationSecret(id: $id, overlapHours: 2) { secret destination { previousSecretExpiresAt } } }',
        { id: d.id },
      ),
    );
    const fresh = rotated.rotateAlertDestinationSecret.secret;
    assert.notEqual(fresh, d.secret);
    assert.ok(
      Date.parse(rotated.rotateAlertDestinationSecret.destination.previousSecretExpiresAt) > Date.now() + 3_500_000,
    );
    await ok(h.gql(owner, 'mutation($d: ID!) { sendTestAlert(destinationId: $d) { id } }', { d: d.id }));
    const r = await eventually('the test alert', () => receiver.at('/rotated')[0]);
    const sig = {
      id: header(r, 'webhook-id'),
      timestamp: header(r, 'webhook-timestamp'),
      signature: header(r, 'webhook-signature'),
    };
    assert.equal(sig.signature.split(' ').length, 2, 'two signatures, space-separated');
    assert.ok(verifyWebhook(fresh, sig, r.body), 'the new secret verifies');
    assert.ok(verifyWebhook(d.secret!, sig, r.body), 'the previous secret verifies during the overlap');
    // no overlap: only the newest signs
    const again = await ok<{ rotateAlertDestinationSecret: { secret: string } }>(
      h.gql(owner, 'mutation($id: ID!) { rotateAlertDestinationSecret(id: $id, overlapHours: 0) { secret } }', {
        id: d.id,
      }),
    );
    await ok(h.gql(owner, 'mutation($d: ID!) { sendTestAlert(destinationId: $d) { id } }', { d: d.id }));
    const r2 = await eventually('the second test alert', () => receiver.at('/rotated')[1]);
    const sig2 = {
      id: header(r2, 'webhook-id'),
      timestamp: header(r2, 'webhook-timestamp'),
      signature: header(r2, 'webhook-signature'),
    };
    assert.ok(verifyWebhook(again.rotateAlertDestinationSecret.secret, sig2, r2.body));
    assert.ok(!verifyWebhook(fresh, sig2, r2.body), 'the replaced secret no longer verifies');
  });

  it('a receiver down at first gets every alert after it recovers, each once', async () => {
    // a port nobody listens on yet: connections are refused until the receiver starts there
    const late = new Receiver(tls);
    const port = await late.listen();
    await late.close();
    const d = await destination('WEBHOOK', '/late', {}, port);
    const alerts = Array.from({ length: 5 }, () => blockDenial());
    for (const a of alerts) await dispatch(a, [d.id]);
    await eventually(
      'every delivery retried at least twice while the receiver is down',
      async () => {
        const rows = await log({ destinationId: d.id });
        return rows.length === 5 && rows.every((x) => x.attempts >= 2 && x.status === 'RETRYING');
      },
      30_000,
    );
    const rows = await log({ destinationId: d.id });
    assert.match(rows[0]!.lastError ?? '', /connection to 127\.0\.0\.1 refused/);
    await late.listen(port);
    try {
      await eventually(
        'every delivery DELIVERED after the recovery',
        async () => (await log({ destinationId: d.id })).every((x) => x.status === 'DELIVERED'),
        30_000,
      );
      const got = late.at('/late').map((r) => header(r, 'webhook-id'));
      assert.deepEqual([...got].sort(), alerts.map((a) => a.id).sort(), 'each alert once');
    } finally {
      await late.close();
    }
  });

  it('a receiver answering 500 forever ends DEAD, visible in the log; a 410 is dead at once', async () => {
    receiver.answer = (p) => (p === '/broken' ? { status: 500 } : p === '/gone' ? { status: 410 } : { status: 200 });
    try {
      const broken = await destination('WEBHOOK', '/broken');
      const gone = await destination('SLACK', '/gone');
      const a = blockDenial();
      await dispatch(a, [broken.id, gone.id]);
      const dead = await eventually(
        'the 500 delivery DEAD',
        async () => (await log({ destinationId: broken.id, status: 'DEAD' }))[0],
        30_000,
      );
      assert.equal(dead.attempts, 5);
      assert.equal(dead.lastHttpStatus, 500);
      assert.match(dead.lastError ?? '', /answered 500; gave up after 5 attempts/);
      assert.equal(receiver.at('/broken').length, 5, 'five attempts, no more');
      const refused = (await log({ destinationId: gone.id }))[0]!;
      assert.equal(refused.status, 'DEAD');
      assert.equal(refused.attempts, 1, 'a 4xx other than 408/425/429 is not retried');
      assert.match(refused.lastError ?? '', /answered 410/);
    } finally {
      receiver.answer = () => ({ status: 200 });
    }
  });

  it('a 429 with Retry-After is retried no sooner than the receiver asked', async () => {
    receiver.answer = (p, nth) =>
      p === '/throttled' && nth === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 };
    try {
      const d = await destination('TEAMS', '/throttled');
      await dispatch(blockDenial(), [d.id]);
      const row = await eventually(
        'DELIVERED',
        async () => (await log({ destinationId: d.id, status: 'DELIVERED' }))[0],
      );
      assert.equal(row.attempts, 2);
      const [first, second] = receiver.at('/throttled');
      // the backoff alone is 75-225 ms here; Retry-After asked for a second
      assert.ok(second!.at - first!.at >= 950, `retried after ${second!.at - first!.at} ms`);
    } finally {
      receiver.answer = () => ({ status: 200 });
    }
  });

  it('a redirect is never followed: the delivery ends DEAD naming where it pointed', async () => {
    receiver.answer = (p) =>
      p === '/moved'
        ? { status: 302, headers: { location: `https://127.0.0.1:${receiver.port}/target?token=x` } }
        : { status: 200 };
    try {
      const d = await destination('WEBHOOK', '/moved');
      await dispatch(blockDenial(), [d.id]);
      const row = await eventually('DEAD', async () => (await log({ destinationId: d.id, status: 'DEAD' }))[0]);
      assert.equal(row.lastHttpStatus, 302);
      assert.equal(
        row.lastError,
        `answered 302 redirect to https://127.0.0.1:${receiver.port}/target: redirects are never followed`,
      );
      assert.equal(receiver.at('/target?token=x').length, 0);
    } finally {
      receiver.answer = () => ({ status: 200 });
    }
  });

  it('over its rate limit a destination waits: deliveries are delayed, not failed, and spaced by the limit', async () => {
    const d = await destination('SLACK', '/limited', { rateLimitPerMinute: 60 }); // 1 a second, a burst of 1
    const alerts = [blockDenial(), blockDenial(), blockDenial()];
    await Promise.all(alerts.map((a) => dispatch(a, [d.id])));
    await eventually(
      'all three DELIVERED',
      async () => (await log({ destinationId: d.id })).filter((x) => x.status === 'DELIVERED').length === 3,
      30_000,
    );
    const rows = await log({ destinationId: d.id });
    assert.deepEqual(
      rows.map((x) => x.attempts),
      [1, 1, 1],
      'waiting for the limit is not an attempt',
    );
    const times = receiver
      .at('/limited')
      .map((r) => r.at)
      .sort((a, b) => a - b);
    assert.equal(times.length, 3);
    // a lower bound the limit guarantees (the bucket refills one token a second), not a speed
    for (let i = 1; i < times.length; i++)
      assert.ok(times[i]! - times[i - 1]! >= 900, `requests ${i - 1} and ${i} ${times[i]! - times[i - 1]!} ms apart`);
  });

  it('secrets are encrypted at rest and never in answers or the audit log', async () => {
    const d = await destination('SIEM', '/secret-path-abc', { tokenHeader: 'X-Api-Key', token: 'tok-very-secret' });
    const row = await h.prisma.alertDestination.findUniqueOrThrow({ where: { id: d.id } });
    const stored = JSON.stringify(row);
    assert.ok(!stored.includes('secret-path-abc') && !stored.includes('tok-very-secret'), 'nothing in clear at rest');
    assert.match(row.urlEncrypted, /^v1:dev:/);
    // a sealed value opens only for its own row and field
    const box = new SecretBox(h.config.secretsEncryptionKeys);
    assert.equal(box.open(row.urlEncrypted, destinationAad(tenantId, d.id, 'url')), url('/secret-path-abc'));
    assert.throws(() => box.open(row.urlEncrypted, destinationAad(tenantId, d.id, 'token')), /failed authentication/);
    const listed = await h.gql(
      owner,
      '{ alertDestinations(first: 100) { edges { node { id name kind urlHost tokenHeader } } } }',
    );
    const audit = await h.gql(owner, '{ auditLog(first: 100) { edges { node { action before after } } } }');
    for (const answer of [JSON.stringify(listed), JSON.stringify(audit)]) {
      assert.ok(!answer.includes('secret-path-abc'), 'no URL path');
      assert.ok(!answer.includes('tok-very-secret'), 'no token');
      assert.ok(!answer.includes('whsec_'), 'no signing secret');
    }
    assert.ok(JSON.stringify(audit).includes('alertDestination.create'));
  });

  it('destinations are managed at tenant level only: a scoped admin and a reader are refused', async () => {
    const grant = async (role: string, cloudScopeId: string | null) => {
      const oid = randomUUID();
      await ok(
        h.gql(owner, 'mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }', {
          i: { principalId: oid, role, cloudScopeId },
        }),
      );
      return h.token(tenantId, oid);
    };
    const scopedAdmin = await grant('SECURITY_ADMIN', scope);
    const reader = await grant('SECURITY_READER', null);
    for (const token of [scopedAdmin, reader]) {
      const res = await h.gql(token, CREATE, { i: { name: 'nope', kind: 'WEBHOOK', url: url('/nope') } });
      assert.equal(onlyError(res).code, 'FORBIDDEN');
      const list = await h.gql(token, '{ alertDestinations { totalCount } }');
      assert.equal(onlyError(list).code, 'FORBIDDEN');
    }
    // the tenant-level reader reads the delivery log; the scoped admin sees its scope's alerts, not tenant-wide TEST ones
    const readerLog = await ok<{ alertDeliveries: { totalCount: number } }>(
      h.gql(reader, '{ alertDeliveries { totalCount } }'),
    );
    assert.ok(readerLog.alertDeliveries.totalCount > 0);
    const scoped = await ok<{ alertDeliveries: { edges: Array<{ node: { alertKind: string } }> } }>(
      h.gql(scopedAdmin, '{ alertDeliveries(first: 100) { edges { node { alertKind } } } }'),
    );
    assert.ok(scoped.alertDeliveries.edges.length > 0);
    assert.ok(scoped.alertDeliveries.edges.every((e) => e.node.alertKind === 'BLOCK_DENIAL'));
  });
});

describe(
  'alert destinations with private addresses refused (production rule)',
  { skip: testDatabaseConfigured ? false : NO_DB_REASON },
  () => {
    const tls = testTls();
    const receiver = new Receiver(tls);
    let h: ApiHarness;
    let worker: INestApplicationContext;
    let owner: string;
    let tenantId: string;

    before(async () => {
      await receiver.listen();
      const caFile = path.join(tempDir('portcullis-alerts-'), 'ca.pem');
      fs.writeFileSync(caFile, tls.caPem);
      h = await startApi({
        REDIS_PREFIX: ownRedisPrefix(),
        ALERTS_ALLOW_PRIVATE_DESTINATIONS: 'false',
        ALERTS_EXTRA_CA_FILE: caFile,
        ALERTS_DELIVERY_ATTEMPTS: '3',
        ALERTS_BACKOFF_BASE_MS: '100',
        LOG_LEVEL: 'silent',
      });
      worker = await startWorker(h.config);
      const t = await h.onboard('Alerts SSRF');
      owner = t.ownerToken;
      tenantId = t.tenantId;
    });
    after(async () => {
      await worker?.close();
      await h?.close();
      await receiver.close();
    });

    const refusals: Array<[string, RegExp]> = [
      ['https://127.0.0.1:8443/hook', /host 127\.0\.0\.1 is a loopback address/],
      ['https://10.0.0.1/hook', /host 10\.0\.0\.1 is a private address \(RFC 1918\)/],
      ['https://169.254.169.254/latest/meta-data', /cloud metadata address/],
      ['https://[::ffff:127.0.0.1]/hook', /IPv4-mapped form of a loopback address/],
      ['https://[fd00:ec2::254]/hook', /cloud metadata address/],
      ['https://100.64.1.1/hook', /carrier-grade NAT/],
      ['https://localhost:8443/hook', /loopback name/],
      ['https://metadata.google.internal/computeMetadata/v1/', /cloud metadata service/],
      ['http://hooks.example.com/hook', /must use https \(got http\)/],
      ['https://user:pw@hooks.example.com/hook', /must not carry a user name or password/],
    ];
    for (const [u, why] of refusals) {
      it(`createAlertDestination refuses ${u}`, async () => {
        const res = await h.gql(owner, CREATE, { i: { name: 'ssrf', kind: 'WEBHOOK', url: u } });
        const e = onlyError(res);
        assert.equal(e.code, 'BAD_USER_INPUT');
        assert.equal(e.field, 'input.url');
        assert.match(e.message, why);
      });
    }

    it('a stored destination that resolves to loopback now (DNS rebinding) is refused at connect time', async () => {
      // saved while it resolved elsewhere: written as the row the API would write, then delivered
      const id = randomUUID();
      const box = new SecretBox(h.config.secretsEncryptionKeys);
      await h.prisma.alertDestination.create({
        data: {
          id,
          tenantId,
          name: 'rebinding',
          kind: 'WEBHOOK',
          urlEncrypted: box.seal(`https://localhost:${receiver.port}/rebound`, destinationAad(tenantId, id, 'url')),
          urlHost: `localhost:${receiver.port}/…`,
          secretEncrypted: box.seal(
            'whsec_' + Buffer.alloc(32, 1).toString('base64'),
            destinationAad(tenantId, id, 'secret'),
          ),
          rateLimitPerMinute: 60,
          createdBy: 'test',
        },
      });
      await ok(h.gql(owner, 'mutation($d: ID!) { sendTestAlert(destinationId: $d) { id } }', { d: id }));
      const row = await eventually('DEAD', async () => {
        const d = await ok<{ alertDeliveries: { edges: Array<{ node: LogRow }> } }>(
          h.gql(owner, LOG, { f: { destinationId: id } }),
        );
        const n = d.alertDeliveries.edges[0]?.node;
        return n?.status === 'DEAD' ? n : undefined;
      });
      assert.equal(row.attempts, 1, 'refused at once, not retried');
      assert.match(
        row.lastError ?? '',
        /localhost is a loopback name: refused|resolves to 127\.0\.0\.1, a loopback address/,
      );
      assert.equal(receiver.at('/rebound').length, 0, 'nothing reached the loopback receiver');
    });
  },
);
