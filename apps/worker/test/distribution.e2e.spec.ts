/**
 * Policy change -> outbox -> BullMQ -> worker compiles and signs -> agent endpoint
 * serves it, verified with the published JWKS; long polls wake on a new revision.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { INestApplicationContext } from '@nestjs/common';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { DISTRIBUTION_QUEUE } from '@portcullis/distribution';
import { fromJwks, verifyBundle, type BundleDocument } from '@portcullis/bundle';
import { NO_DB_REASON, startApi, startWorker, testDatabaseConfigured, type ApiHarness } from '@portcullis/testing';

describe('bundle distribution', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let worker: INestApplicationContext;
  let owner: string;
  let scope: string;

  before(async () => {
    h = await startApi();
    worker = await startWorker(h.config);
    const t = await h.onboard('Distribution');
    owner = t.ownerToken;
    const res = await h.gql<{ createCloudScope: { id: string } }>(owner, 'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "555555555555", displayName: "dist" }) { id } }');
    scope = res.data!.createCloudScope.id;
  });
  after(async () => {
    await worker?.close();
    await h?.close();
  });

  async function register(name: string): Promise<{ id: string; token: string }> {
    const res = await h.gql<{ registerCluster: { cluster: { id: string }; agentToken: string } }>(owner, `mutation { registerCluster(input: { cloudScopeId: "${scope}", name: "${name}", distribution: EKS }) { cluster { id } agentToken } }`);
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    return { id: res.data!.registerCluster.cluster.id, token: res.data!.registerCluster.agentToken };
  }

  async function fetchBundle(token: string, opts: { etag?: string; wait?: number } = {}) {
    const req = h.http().get(`/agent/v1/bundle${opts.wait ? `?waitSeconds=${opts.wait}` : ''}`).set('Authorization', `Bearer ${token}`);
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
    assert.deepEqual(bundle.policies.map((p) => p.name).sort(), ['Default K8s misconfiguration rule', 'Default vulnerability gating rule']);
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
    const created = await h.gql(owner, `mutation { createPolicy(input: { name: "poll trigger", type: MISCONFIGURATION, action: BLOCK, scope: { cloudScopeIds: ["${scope}"] } }) { id } }`);
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
      const job = await queue.add('policy.updated', { tenantId: 'not-a-uuid' }, { attempts: 2, backoff: { type: 'fixed', delay: 10 }, removeOnFail: 100 });
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
});
