/**
 * Policy change -> outbox -> BullMQ -> worker compiles and signs -> agent endpoint
 * serves it, verified with the published JWKS; long polls wake on a new revision.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { INestApplicationContext } from '@nestjs/common';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { DISTRIBUTION_QUEUE, RELAY_OUTBOX_JOB } from '@portcullis/distribution';
import { fromJwks, verifyBundle, type BundleDocument } from '@portcullis/bundle';
import { NO_DB_REASON, startApi, startWorker, testDatabaseConfigured, type ApiHarness } from '@portcullis/testing';

describe('bundle distribution', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let worker: INestApplicationContext;
  let owner: string;
  let tenantId: string;
  let scope: string;

  before(async () => {
    h = await startApi();
    worker = await startWorker(h.config);
    const t = await h.onboard('Distribution');
    owner = t.ownerToken;
    tenantId = t.tenantId;
    const res = await h.gql<{ createCloudScope: { id: string } }>(
      owner,
      'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "555555555555", displayName: "dist" }) { id } }',
    );
    scope = res.data!.createCloudScope.id;
  });
  after(async () => {
    await worker?.close();
    await h?.close();
  });

  async function register(name: string): Promise<{ id: string; token: string }> {
    const res = await h.gql<{ registerCluster: { cluster: { id: string }; agentToken: string } }>(
      owner,
      `mutation { registerCluster(input: { cloudScopeId: "${scope}", name: "${name}", distribution: EKS }) { cluster { id } agentToken } }`,
    );
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    return { id: res.data!.registerCluster.cluster.id, token: res.data!.registerCluster.agentToken };
  }

  async function fetchBundle(token: string, opts: { etag?: string; wait?: number } = {}) {
    const req = h
      .http()
      .get(`/agent/v1/bundle${opts.wait ? `?waitSeconds=${opts.wait}` : ''}`)
      .set('Authorization', `Bearer ${token}`);
    if (opts.etag) req.set('If-None-Match', opts.etag);
    return req;
  }

  /** First bundle of a new cluster: compiled from the cluster.registered event. */
  async function firstBundle(token: string) {
    // long polls until the worker has compiled it; a loaded machine may need more than one
    let res = await fetchBundle(token, { wait: 20 });
    for (let i = 0; i < 3 && res.status === 404; i++) res = await fetchBundle(token, { wait: 20 });
    assert.equal(res.status, 200, res.text);
    return res;
  }

  it('a registered cluster gets a signed bundle that verifies with the published keys', async () => {
    const c = await register('dist-one');
    const res = await firstBundle(c.token);
    const jwks = (await h.http().get('/.well-known/jwks.json').expect(200)).body;
    const verdict = verifyBundle(res.body, { trustedKeys: fromJwks(jwks), clusterId: c.id, now: new Date() });
    assert.ok(verdict.ok, JSON.stringify(verdict));
    const bundle = (verdict as { bundle: BundleDocument }).bundle;
    assert.equal(bundle.revision, 1);
    assert.equal(res.headers['etag'], '"rev-1"');
    assert.deepEqual(bundle.policies.map((p) => p.name).sort(), [
      'Default K8s misconfiguration rule',
      'Default vulnerability gating rule',
    ]);
    assert.doesNotMatch(JSON.stringify(jwks), /"d"/, 'no private key material is published');
  });

  it('If-None-Match with the held revision answers 304', async () => {
    const c = await register('dist-etag');
    const first = await firstBundle(c.token);
    const again = await fetchBundle(c.token, { etag: first.headers['etag'] });
    assert.equal(again.status, 304);
  });

  it('a long poll returns as soon as a change produces a newer revision', async () => {
    const c = await register('dist-poll');
    const first = await firstBundle(c.token);
    const poll = fetchBundle(c.token, { etag: first.headers['etag'], wait: 30 }).then((r) => r);
    await new Promise((r) => setTimeout(r, 300));
    const created = await h.gql(
      owner,
      `mutation { createPolicy(input: { name: "poll trigger", type: MISCONFIGURATION, action: BLOCK, scope: { cloudScopeIds: ["${scope}"] } }) { id } }`,
    );
    assert.equal(created.errors, undefined, JSON.stringify(created.errors));
    const res = await poll;
    assert.equal(res.status, 200);
    assert.equal(res.headers['etag'], '"rev-2"');
  });

  it("another cluster's credential is refused with 403, and a bad credential with 401", async () => {
    const a = await register('dist-a');
    const b = await register('dist-b');
    const res = await h.http().get(`/agent/v1/bundle?clusterId=${b.id}`).set('Authorization', `Bearer ${a.token}`);
    assert.equal(res.status, 403);
    assert.equal((await h.http().get('/agent/v1/bundle').set('Authorization', 'Bearer pca_0000.nope')).status, 401);
    assert.equal((await h.http().get('/agent/v1/bundle')).status, 401);
  });

  it('a job that keeps failing is visible: on /metrics as failed, with the reason kept on the job', async () => {
    const connection = new Redis(h.config.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(DISTRIBUTION_QUEUE, { connection, prefix: h.config.redisPrefix });
    try {
      // a tenant id PostgreSQL cannot even parse: compiling fails on every attempt
      const job = await queue.add(
        'policy.updated',
        { tenantId: 'not-a-uuid' },
        { attempts: 2, backoff: { type: 'fixed', delay: 10 }, removeOnFail: 100 },
      );
      for (let i = 0; i < 200 && !(await job.isFailed()); i++) await new Promise((r) => setTimeout(r, 50));
      const failed = await queue.getJob(job.id!);
      assert.equal(await failed!.getState(), 'failed');
      assert.equal(failed!.attemptsMade, 2);
      assert.match(failed!.failedReason, /uuid/i);
      const metrics = (await h.http().get('/metrics').expect(200)).text;
      const line = /^portcullis_distribution_jobs\{state="failed"\} (\d+)$/m.exec(metrics);
      assert.ok(line && Number(line[1]) >= 1, `failed jobs on /metrics: ${line?.[0]}`);
      assert.match(metrics, /^portcullis_domain_events_unpublished \d+$/m);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });

  it('a job of an unknown name fails at once, with its name in the reason, and is never run as a recompile', async () => {
    const connection = new Redis(h.config.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(DISTRIBUTION_QUEUE, { connection, prefix: h.config.redisPrefix });
    try {
      // a payload a recompile would accept (an onboarded tenant): read as one, the job would complete
      const job = await queue.add(
        'policy.renamed',
        { tenantId },
        { attempts: 3, backoff: { type: 'fixed', delay: 10 }, removeOnFail: 100 },
      );
      for (let i = 0; i < 200 && !(await job.isFailed()); i++) await new Promise((r) => setTimeout(r, 50));
      const failed = await queue.getJob(job.id!);
      assert.equal(await failed!.getState(), 'failed');
      assert.equal(failed!.attemptsMade, 1, 'not retried: another attempt would read the same name');
      assert.match(failed!.failedReason, /^unknown distribution job "policy\.renamed"/);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });

  it('the outbox relay publishes a stale unpublished event as the outbox would, and leaves one of an unknown type', async () => {
    const connection = new Redis(h.config.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue(DISTRIBUTION_QUEUE, { connection, prefix: h.config.redisPrefix });
    const stale = new Date(Date.now() - 60_000);
    const known = await h.prisma.domainEvent.create({
      data: { tenantId, type: 'cloud-scope.deleted', payload: { cloudScopeIds: [scope] }, createdAt: stale },
    });
    const unknown = await h.prisma.domainEvent.create({
      data: { tenantId, type: 'policy.renamed', payload: {}, createdAt: stale },
    });
    try {
      const relay = await queue.add(RELAY_OUTBOX_JOB, {}, { removeOnComplete: 100, removeOnFail: 100 });
      for (let i = 0; i < 200 && !(await relay.isCompleted()) && !(await relay.isFailed()); i++)
        await new Promise((r) => setTimeout(r, 50));
      assert.equal(await relay.getState(), 'completed', (await queue.getJob(relay.id!))?.failedReason);
      const job = await queue.getJob(`event-${known.id}`);
      assert.ok(job, 'the relayed event is on the queue under its event id');
      assert.equal(job.name, 'cloud-scope.deleted');
      assert.deepEqual(job.data, { cloudScopeIds: [scope], eventId: known.id.toString(), tenantId });
      assert.equal(job.opts.attempts, 10);
      const rows = await h.prisma.domainEvent.findMany({
        where: { id: { in: [known.id, unknown.id] } },
        orderBy: { id: 'asc' },
      });
      assert.ok(rows[0]!.publishedAt, 'the known event is marked published');
      assert.equal(rows[1]!.publishedAt, null, 'an event of an unknown type stays for a worker that knows it');
      assert.equal(await queue.getJob(`event-${unknown.id}`), undefined);
    } finally {
      await h.prisma.domainEvent.deleteMany({ where: { id: unknown.id } });
      await queue.close();
      connection.disconnect();
    }
  });
});
