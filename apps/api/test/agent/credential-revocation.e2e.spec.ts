/**
 * Issue 21, finding 6: a long poll parked on an agent credential ends with 401 as soon as
 * that credential is rotated or its cluster deleted, on whichever API replica holds it, and
 * no bundle is ever delivered on the old credential afterwards, even when the revocation
 * message is lost and a new revision wakes the poll.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { INestApplicationContext } from '@nestjs/common';
import { Redis } from 'ioredis';
import request from 'supertest';
import { credentialRevocationChannel } from '@portcullis/distribution';
import { issueAgentCredential } from '@portcullis/credentials';
import {
  NO_DB_REASON,
  startApi,
  startApiProcess,
  startWorker,
  testDatabaseConfigured,
  type ApiHarness,
  type ApiProcess,
} from '@portcullis/testing';
import { BundleNotifications, REVOKED } from '../../src/agent/bundle-notifications';

describe(
  'agent credential revocation ends parked long polls',
  { skip: testDatabaseConfigured ? false : NO_DB_REASON },
  () => {
    let h: ApiHarness;
    let b: ApiProcess;
    let worker: INestApplicationContext;
    let owner: string;
    let scope: string;

    before(async () => {
      h = await startApi();
      b = await startApiProcess(h);
      worker = await startWorker(h.config);
      const t = await h.onboard('Revocation');
      owner = t.ownerToken;
      const res = await h.gql<{ createCloudScope: { id: string } }>(
        owner,
        'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "212121212121", displayName: "revocation" }) { id } }',
      );
      scope = res.data!.createCloudScope.id;
    });
    after(async () => {
      await worker?.close();
      await b?.stop();
      await h?.close();
    });

    const parked = () => h.app.get(BundleNotifications);

    async function register(name: string): Promise<{ id: string; token: string; etag: string }> {
      const res = await h.gql<{ registerCluster: { cluster: { id: string }; agentToken: string } }>(
        owner,
        `mutation { registerCluster(input: { cloudScopeId: "${scope}", name: "${name}", distribution: AKS }) { cluster { id } agentToken } }`,
      );
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      const token = res.data!.registerCluster.agentToken;
      // the first bundle is compiled from the cluster.registered event; a loaded machine may need more than one poll
      let first = await h.http().get('/agent/v1/bundle?waitSeconds=20').set('Authorization', `Bearer ${token}`);
      for (let i = 0; i < 3 && first.status === 404; i++)
        first = await h.http().get('/agent/v1/bundle?waitSeconds=20').set('Authorization', `Bearer ${token}`);
      assert.equal(first.status, 200, first.text);
      return { id: res.data!.registerCluster.cluster.id, token, etag: String(first.headers['etag']) };
    }

    /** A poll parked on this process (replica A) holding the current revision; resolves once it is parked. */
    async function parkOnA(
      token: string,
      etag: string,
      waitSeconds: number,
    ): Promise<{ poll: Promise<request.Response> }> {
      const before = parked().waiting;
      const poll = h
        .http()
        .get(`/agent/v1/bundle?waitSeconds=${waitSeconds}`)
        .set('Authorization', `Bearer ${token}`)
        .set('If-None-Match', etag)
        .then((r) => r);
      for (let i = 0; i < 500 && parked().waiting === before; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(parked().waiting, before + 1, 'the poll is parked');
      return { poll };
    }

    /** Steps of 10 ms until no poll is parked here, far fewer than the polls' 60 s wait. */
    async function parkedPollsEnd(): Promise<void> {
      for (let i = 0; i < 1000 && parked().waiting > 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(parked().waiting, 0, 'the parked poll ended before its wait did');
    }

    async function rotate(id: string): Promise<string> {
      const res = await h.gql<{ rotateClusterToken: { agentToken: string } }>(
        owner,
        'mutation($id: ID!) { rotateClusterToken(id: $id) { agentToken } }',
        { id },
      );
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      return res.data!.rotateClusterToken.agentToken;
    }

    async function changePolicy(name: string): Promise<void> {
      const res = await h.gql(
        owner,
        `mutation { createPolicy(input: { name: "${name}", type: MISCONFIGURATION, action: BLOCK, scope: { cloudScopeIds: ["${scope}"] } }) { id } }`,
      );
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    }

    function assertNoBundle(res: request.Response): void {
      assert.equal(res.status, 401, `${res.status} ${res.text.slice(0, 200)}`);
      assert.doesNotMatch(String(res.headers['etag']), /rev-/, 'no revision is announced');
      assert.equal(res.body.code, 'UNAUTHENTICATED');
      assert.doesNotMatch(res.text, /signature|payload/i, 'no bundle envelope in the answer');
    }

    it('rotation through replica A ends the poll parked on replica B with 401, and the next revision is not delivered on it', async () => {
      const c = await register('revoke-rotate');
      const poll = request(b.url)
        .get('/agent/v1/bundle?waitSeconds=60')
        .set('Authorization', `Bearer ${c.token}`)
        .set('If-None-Match', c.etag)
        .then((r) => r);
      // replica B is another process: give its poll the time to park (it answers 401 either way once revoked)
      await new Promise((r) => setTimeout(r, 500));
      const fresh = await rotate(c.id);
      await changePolicy('after rotation');
      const res = await poll;
      assertNoBundle(res);
      assert.match(res.body.message, /not valid/, 'the same answer a fresh request with the old credential gets');
      // the revision the old credential did not get exists, and the new credential gets it
      const newer = await h
        .http()
        .get('/agent/v1/bundle?waitSeconds=30')
        .set('Authorization', `Bearer ${fresh}`)
        .set('If-None-Match', c.etag);
      assert.equal(newer.status, 200, newer.text);
      assert.equal(newer.headers['etag'], '"rev-2"');
      assertNoBundle(await request(b.url).get('/agent/v1/bundle').set('Authorization', `Bearer ${c.token}`));
    });

    it('rotation ends a parked poll at once, before its wait ends and with nothing else happening', async () => {
      const c = await register('revoke-at-once');
      // before the fix this poll stayed parked until its wait ended and then answered 304
      const { poll } = await parkOnA(c.token, c.etag, 60);
      await rotate(c.id);
      await parkedPollsEnd();
      assertNoBundle(await poll);
    });

    it('deleting the cluster ends its parked poll at once with 401', async () => {
      const c = await register('revoke-delete');
      const { poll } = await parkOnA(c.token, c.etag, 60);
      const res = await h.gql(owner, 'mutation($id: ID!) { deleteCluster(id: $id) { id } }', { id: c.id });
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      await parkedPollsEnd();
      assertNoBundle(await poll);
    });

    it('a poll woken by a new revision re-checks its credential: a revocation whose message was lost still gets 401, not the bundle', async () => {
      const c = await register('revoke-lost-message');
      const { poll } = await parkOnA(c.token, c.etag, 60);
      // the credential replaced behind the API's back: no revocation message is ever sent
      const replacement = issueAgentCredential();
      await h.prisma.cluster.update({
        where: { id: c.id },
        data: { agentTokenId: replacement.tokenId, agentTokenHash: replacement.secretHash },
      });
      await changePolicy('after silent rotation');
      assertNoBundle(await poll);
      const newer = await h.http().get('/agent/v1/bundle').set('Authorization', `Bearer ${replacement.token}`);
      assert.equal(newer.status, 200);
      assert.equal(newer.headers['etag'], '"rev-2"', 'the poll was woken by a stored revision');
    });

    it('a revocation that arrives between the credential check and parking still ends the poll', async () => {
      const notifications = parked();
      const sentinel = { clusterId: '00000000-0000-4000-8000-000000000020', tokenId: issueAgentCredential().tokenId };
      const late = { clusterId: '00000000-0000-4000-8000-000000000021', tokenId: issueAgentCredential().tokenId };
      const publisher = new Redis(h.config.redisUrl, { maxRetriesPerRequest: null });
      try {
        // the sentinel's poll is parked; the late one checked its credential but has not parked yet
        const stop = new AbortController();
        const sentinelWake = notifications.waitForRevision(sentinel.clusterId, sentinel.tokenId, 60_000, stop.signal);
        await publisher.publish(
          credentialRevocationChannel(h.config.redisPrefix),
          JSON.stringify({
            r: [
              [sentinel.clusterId, sentinel.tokenId],
              [late.clusterId, late.tokenId],
            ],
          }),
        );
        assert.equal(await sentinelWake, REVOKED, 'the message was received');
        // parking after the message: the replica remembers the revoked token id
        const lateStop = new AbortController();
        const lateWake = notifications.waitForRevision(late.clusterId, late.tokenId, 60_000, lateStop.signal);
        const unrelated = notifications.waitForRevision(
          late.clusterId,
          issueAgentCredential().tokenId,
          60_000,
          lateStop.signal,
        );
        lateStop.abort();
        assert.equal(await lateWake, REVOKED);
        assert.equal(await unrelated, null, 'another credential of the same cluster is not affected');
      } finally {
        publisher.disconnect();
      }
    });
  },
);
