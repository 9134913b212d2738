/**
 * Two API processes and the worker: a change made through one replica wakes a long
 * poll held on the other (Redis pub/sub), not only polls on the replica that took it.
 * Replica A is this test process; replica B is a separate process started from the
 * compiled entry point, as `npm start` runs it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { INestApplicationContext } from '@nestjs/common';
import request from 'supertest';
import {
  NO_DB_REASON,
  startApi,
  startApiProcess,
  startWorker,
  testDatabaseConfigured,
  type ApiHarness,
  type ApiProcess,
} from '@portcullis/testing';

describe('long polls across API replicas', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let a: ApiHarness;
  let b: ApiProcess;
  let worker: INestApplicationContext;
  before(async () => {
    a = await startApi();
    b = await startApiProcess(a);
    worker = await startWorker(a.config);
  });
  after(async () => {
    await worker?.close();
    await b?.stop();
    await a?.close();
  });

  it('a mutation through replica A wakes the poll held on replica B, another process', async () => {
    const t = await a.onboard('Replicas');
    const scope = await a.gql<{ createCloudScope: { id: string } }>(
      t.ownerToken,
      'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "777777777777", displayName: "r" }) { id } }',
    );
    const reg = await a.gql<{ registerCluster: { agentToken: string } }>(
      t.ownerToken,
      `mutation { registerCluster(input: { cloudScopeId: "${scope.data!.createCloudScope.id}", name: "replicated", distribution: AKS }) { agentToken } }`,
    );
    const token = reg.data!.registerCluster.agentToken;
    const first = await request(b.url).get('/agent/v1/bundle?waitSeconds=20').set('Authorization', `Bearer ${token}`);
    assert.equal(first.status, 200);

    const started = Date.now();
    // as the agent does: a 304 (a wake-up for the revision it holds, seen once in CI) is polled again at once
    const pollUntilNew = async () => {
      for (;;) {
        const r = await request(b.url)
          .get('/agent/v1/bundle?waitSeconds=30')
          .set('Authorization', `Bearer ${token}`)
          .set('If-None-Match', String(first.headers['etag']));
        if (r.status !== 304 || Date.now() - started >= 30_000) return r;
      }
    };
    const poll = pollUntilNew();
    await new Promise((r) => setTimeout(r, 300));
    const changed = await a.gql(
      t.ownerToken,
      'mutation { createPolicy(input: { name: "wake b", type: MISCONFIGURATION, action: BLOCK }) { id } }',
    );
    assert.equal(changed.errors, undefined, JSON.stringify(changed.errors));
    const res = await poll;
    assert.equal(res.status, 200);
    assert.equal(res.headers['etag'], '"rev-2"');
    assert.ok(Date.now() - started < 30_000, 'answered by the wake-up, not by the end of the wait');
  });
});
