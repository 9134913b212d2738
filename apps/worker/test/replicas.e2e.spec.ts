/**
 * Two API replicas and the worker: a change made through one replica wakes a long
 * poll held on the other (Redis pub/sub), not only polls on the replica that took it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { INestApplicationContext } from '@nestjs/common';
import { NO_DB_REASON, startApi, testDatabaseConfigured, type ApiHarness } from '../../api/test/support/harness';
import { startWorker } from './worker-harness';

describe('long polls across API replicas', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let a: ApiHarness;
  let b: ApiHarness;
  let worker: INestApplicationContext;
  before(async () => {
    a = await startApi();
    b = await startApi();
    worker = await startWorker(a.config);
  });
  after(async () => {
    await worker?.close();
    await Promise.all([a?.close(), b?.close()]);
  });

  it('a mutation through replica A wakes the poll held on replica B', async () => {
    const t = await a.onboard('Replicas');
    const scope = await a.gql<{ createCloudScope: { id: string } }>(t.ownerToken, 'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "777777777777", displayName: "r" }) { id } }');
    const reg = await a.gql<{ registerCluster: { agentToken: string } }>(t.ownerToken, `mutation { registerCluster(input: { cloudScopeId: "${scope.data!.createCloudScope.id}", name: "replicated", distribution: AKS }) { agentToken } }`);
    const token = reg.data!.registerCluster.agentToken;
    const first = await b.http().get('/agent/v1/bundle?waitSeconds=20').set('Authorization', `Bearer ${token}`);
    assert.equal(first.status, 200);

    const started = Date.now();
    const poll = b.http().get('/agent/v1/bundle?waitSeconds=30').set('Authorization', `Bearer ${token}`).set('If-None-Match', String(first.headers['etag'])).then((r) => r);
    await new Promise((r) => setTimeout(r, 300));
    const changed = await a.gql(t.ownerToken, 'mutation { createPolicy(input: { name: "wake b", type: MISCONFIGURATION, action: BLOCK }) { id } }');
    assert.equal(changed.errors, undefined, JSON.stringify(changed.errors));
    const res = await poll;
    assert.equal(res.status, 200);
    assert.equal(res.headers['etag'], '"rev-2"');
    assert.ok(Date.now() - started < 30_000, 'answered by the wake-up, not by the end of the wait');
  });
});
