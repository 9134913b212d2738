/**
 * A parked long poll woken by an announcement of the revision it already holds (a late or
 * repeated message on the bundle channel) keeps waiting for the rest of its time and answers
 * the next revision with 200, instead of ending early with 304 (which sent the agent straight
 * back into a new poll and, in one CI run, made a replica test see 304 where it waited for rev-2).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { INestApplicationContext } from '@nestjs/common';
import { Redis } from 'ioredis';
import { bundleChannel } from '@portcullis/distribution';
import { NO_DB_REASON, startApi, startWorker, testDatabaseConfigured, type ApiHarness } from '@portcullis/testing';
import { BundleNotifications } from '../../src/agent/bundle-notifications';

describe(
  'a poll woken for the revision it holds waits on',
  { skip: testDatabaseConfigured ? false : NO_DB_REASON },
  () => {
    let h: ApiHarness;
    let worker: INestApplicationContext;
    let publisher: Redis;

    before(async () => {
      h = await startApi();
      worker = await startWorker(h.config);
      publisher = new Redis(h.config.redisUrl, { maxRetriesPerRequest: null });
    });
    after(async () => {
      publisher?.disconnect();
      await worker?.close();
      await h?.close();
    });

    it('answers 200 with the next revision, not 304 on the repeated announcement', async () => {
      const { ownerToken: owner } = await h.onboard('HeldWake');
      const scope = await h.gql<{ createCloudScope: { id: string } }>(
        owner,
        'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "313131313131", displayName: "held" }) { id } }',
      );
      assert.equal(scope.errors, undefined, JSON.stringify(scope.errors));
      const scopeId = scope.data!.createCloudScope.id;
      const reg = await h.gql<{ registerCluster: { cluster: { id: string }; agentToken: string } }>(
        owner,
        `mutation { registerCluster(input: { cloudScopeId: "${scopeId}", name: "held", distribution: AKS }) { cluster { id } agentToken } }`,
      );
      assert.equal(reg.errors, undefined, JSON.stringify(reg.errors));
      const clusterId = reg.data!.registerCluster.cluster.id;
      const token = reg.data!.registerCluster.agentToken;

      let first = await h.http().get('/agent/v1/bundle?waitSeconds=20').set('Authorization', `Bearer ${token}`);
      for (let i = 0; i < 3 && first.status === 404; i++)
        first = await h.http().get('/agent/v1/bundle?waitSeconds=20').set('Authorization', `Bearer ${token}`);
      assert.equal(first.status, 200, first.text);
      const held = String(first.headers['etag']);
      const heldRevision = Number(/rev-(\d+)/.exec(held)?.[1]);
      assert.ok(Number.isInteger(heldRevision), held);

      const notifications = h.app.get(BundleNotifications);
      const poll = h
        .http()
        .get('/agent/v1/bundle?waitSeconds=30')
        .set('Authorization', `Bearer ${token}`)
        .set('If-None-Match', held)
        .then((r) => r);
      for (let i = 0; i < 500 && notifications.waiting === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(notifications.waiting, 1, 'the poll is parked');

      // the held revision announced again, ahead of the real change: FIFO on the channel, so it wakes the poll first
      await publisher.publish(bundleChannel(h.config.redisPrefix), JSON.stringify({ c: [[clusterId, heldRevision]] }));
      const policy = await h.gql(
        owner,
        `mutation { createPolicy(input: { name: "held-wake", type: MISCONFIGURATION, action: BLOCK, scope: { cloudScopeIds: ["${scopeId}"] } }) { id } }`,
      );
      assert.equal(policy.errors, undefined, JSON.stringify(policy.errors));

      const res = await poll;
      assert.equal(
        res.status,
        200,
        `the poll answered ${res.status} (${String(res.headers['etag'])}) while holding ${held}`,
      );
      assert.notEqual(String(res.headers['etag']), held);
      assert.ok(Number(/rev-(\d+)/.exec(String(res.headers['etag']))?.[1]) > heldRevision);
    });
  },
);
