/**
 * Agents report what they enforce (POST /agent/v1/status) and bundleRollout shows,
 * per cluster, whether a change is live: latest vs applied revision, lag, since when
 * a cluster is behind, and the agent's event-pipeline health. Real API, worker,
 * PostgreSQL and Redis.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { INestApplicationContext } from '@nestjs/common';
import { NO_DB_REASON, startApi, startWorker, testDatabaseConfigured, type ApiHarness } from '@portcullis/testing';

interface Row {
  cluster: { id: string; name: string };
  latestRevision: number | null;
  appliedRevision: number | null;
  lag: number;
  live: boolean;
  behindSince: string | null;
  agentVersion: string | null;
  spoolDepth: number | null;
  droppedEvents: number | null;
  agentReportedAt: string | null;
  lastError: string | null;
}
interface Rollout {
  bundleRollout: { total: number; live: number; complete: boolean; clusters: Row[] };
}

const ROLLOUT_FIELDS =
  'total live complete clusters { cluster { id name } latestRevision appliedRevision lag live behindSince agentVersion spoolDepth droppedEvents agentReportedAt lastError }';

describe('agent status and bundleRollout', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let worker: INestApplicationContext;
  let owner: string;
  let tenantId: string;
  let scopeA: string;
  let scopeB: string;
  const clusters: Record<'a1' | 'a2' | 'b1', { id: string; token: string }> = {} as never;

  async function register(scope: string, name: string): Promise<{ id: string; token: string }> {
    const res = await h.gql<{ registerCluster: { cluster: { id: string }; agentToken: string } }>(
      owner,
      `mutation { registerCluster(input: { cloudScopeId: "${scope}", name: "${name}", distribution: GKE }) { cluster { id } agentToken } }`,
    );
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    return { id: res.data!.registerCluster.cluster.id, token: res.data!.registerCluster.agentToken };
  }

  /** Long-polls until the cluster holds at least `revision`; returns the ETag's revision. */
  async function awaitRevision(token: string, revision: number): Promise<number> {
    for (let i = 0; i < 20; i++) {
      const res = await h
        .http()
        .get('/agent/v1/bundle?waitSeconds=10')
        .set('Authorization', `Bearer ${token}`)
        .set('If-None-Match', `"rev-${revision - 1}"`);
      if (res.status === 200) {
        const held = Number(/rev-(\d+)/.exec(String(res.headers['etag']))![1]);
        if (held >= revision) return held;
      }
    }
    throw new Error(`revision ${revision} never arrived`);
  }

  function report(token: string, body: Record<string, unknown>) {
    return h
      .http()
      .post('/agent/v1/status')
      .set('Authorization', `Bearer ${token}`)
      .send({
        agentVersion: '1.4.0',
        appliedRevision: null,
        spoolDepth: 0,
        droppedEvents: 0,
        reportedAt: new Date().toISOString(),
        ...body,
      });
  }

  async function rollout(token: string, arg: string): Promise<Rollout['bundleRollout']> {
    const res = await h.gql<Rollout>(token, `{ bundleRollout(${arg}) { ${ROLLOUT_FIELDS} } }`);
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    return res.data!.bundleRollout;
  }

  async function defaultPolicy(): Promise<{ id: string; version: number }> {
    return h.prisma.policy.findFirstOrThrow({
      where: { tenantId, isDefault: true, type: 'MISCONFIGURATION' },
      select: { id: true, version: true },
    });
  }

  before(async () => {
    h = await startApi();
    worker = await startWorker(h.config);
    const t = await h.onboard('Rollout');
    owner = t.ownerToken;
    tenantId = t.tenantId;
    const mk = async (externalId: string) => {
      const r = await h.gql<{ createCloudScope: { id: string } }>(
        owner,
        `mutation { createCloudScope(input: { provider: GCP_PROJECT, externalId: "${externalId}", displayName: "${externalId}" }) { id } }`,
      );
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      return r.data!.createCloudScope.id;
    };
    scopeA = await mk('rollout-project-a');
    scopeB = await mk('rollout-project-b');
    clusters.a1 = await register(scopeA, 'a1');
    clusters.a2 = await register(scopeA, 'a2');
    clusters.b1 = await register(scopeB, 'b1');
    for (const c of Object.values(clusters)) await awaitRevision(c.token, 1);
  });
  after(async () => {
    await worker?.close();
    await h?.close();
  });

  it('a status report is stored and shown: applied revision, agent version, spool depth, dropped events', async () => {
    const reportedAt = '2026-11-23T10:00:00.000Z';
    const res = await report(clusters.a1.token, {
      appliedRevision: 1,
      spoolDepth: 42,
      droppedEvents: 7,
      reportedAt,
      lastError: 'upload: 503 from API',
    });
    assert.equal(res.status, 204, res.text);
    const r = await rollout(owner, `clusterId: "${clusters.a1.id}"`);
    assert.equal(r.total, 1);
    const row = r.clusters[0]!;
    assert.deepEqual(
      {
        latest: row.latestRevision,
        applied: row.appliedRevision,
        lag: row.lag,
        live: row.live,
        behind: row.behindSince,
        v: row.agentVersion,
        spool: row.spoolDepth,
        dropped: row.droppedEvents,
        at: row.agentReportedAt,
        err: row.lastError,
      },
      {
        latest: 1,
        applied: 1,
        lag: 0,
        live: true,
        behind: null,
        v: '1.4.0',
        spool: 42,
        dropped: 7,
        at: reportedAt,
        err: 'upload: 503 from API',
      },
    );
  });

  it('a change is not live until every agent reports it; lag and behindSince say how far behind', async () => {
    for (const c of [clusters.a2, clusters.b1])
      assert.equal((await report(c.token, { appliedRevision: 1 })).status, 204);
    const policy = await defaultPolicy();
    const changed = await h.gql(
      owner,
      `mutation { updatePolicy(id: "${policy.id}", input: { version: ${policy.version}, action: BLOCK }) { version } }`,
    );
    assert.equal(changed.errors, undefined, JSON.stringify(changed.errors));
    for (const c of Object.values(clusters)) assert.equal(await awaitRevision(c.token, 2), 2);

    const before = await rollout(owner, `policyId: "${policy.id}"`);
    assert.deepEqual(
      { total: before.total, live: before.live, complete: before.complete },
      { total: 3, live: 0, complete: false },
    );
    const issued = await h.prisma.bundle.findUniqueOrThrow({
      where: { clusterId_revision: { clusterId: clusters.a1.id, revision: 2 } },
      select: { issuedAt: true },
    });
    for (const row of before.clusters) {
      assert.equal(row.latestRevision, 2);
      assert.equal(row.appliedRevision, 1);
      assert.equal(row.lag, 1);
      assert.equal(row.live, false);
      assert.ok(row.behindSince, `${row.cluster.name} has behindSince`);
    }
    assert.equal(
      before.clusters.find((r) => r.cluster.id === clusters.a1.id)!.behindSince,
      issued.issuedAt.toISOString(),
    );

    await report(clusters.a1.token, { appliedRevision: 2 });
    await report(clusters.a2.token, { appliedRevision: 2 });
    const partial = await rollout(owner, `policyId: "${policy.id}"`);
    assert.deepEqual({ live: partial.live, complete: partial.complete }, { live: 2, complete: false });
    assert.deepEqual(
      partial.clusters.filter((r) => !r.live).map((r) => r.cluster.name),
      ['b1'],
    );

    // read a page at a time, by name; the totals count every cluster on every page
    type Page = Rollout['bundleRollout'] & { pageInfo: { hasNextPage: boolean; endCursor: string | null } };
    const page = async (arg: string) => {
      const res = await h.gql<{ bundleRollout: Page }>(
        owner,
        `{ bundleRollout(policyId: "${policy.id}", ${arg}) { total live complete pageInfo { hasNextPage endCursor } clusters { cluster { name } live } } }`,
      );
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      return res.data!.bundleRollout;
    };
    const first = await page('first: 2');
    assert.deepEqual(
      {
        names: first.clusters.map((r) => r.cluster.name),
        more: first.pageInfo.hasNextPage,
        total: first.total,
        live: first.live,
      },
      { names: ['a1', 'a2'], more: true, total: 3, live: 2 },
    );
    const second = await page(`first: 2, after: "${first.pageInfo.endCursor}"`);
    assert.deepEqual(
      { names: second.clusters.map((r) => r.cluster.name), more: second.pageInfo.hasNextPage, total: second.total },
      { names: ['b1'], more: false, total: 3 },
    );
    const behind = await page('onlyBehind: true');
    assert.deepEqual(
      {
        names: behind.clusters.map((r) => r.cluster.name),
        total: behind.total,
        live: behind.live,
        complete: behind.complete,
      },
      { names: ['b1'], total: 3, live: 2, complete: false },
    );
    const tooMany = await h.gql(owner, `{ bundleRollout(policyId: "${policy.id}", first: 1001) { total } }`);
    assert.equal(tooMany.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.match(tooMany.errors?.[0]?.message ?? '', /first must be at most 1000/);
    const forged = await h.gql(owner, `{ bundleRollout(policyId: "${policy.id}", after: "not-a-cursor") { total } }`);
    assert.equal(forged.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');

    await report(clusters.b1.token, { appliedRevision: 2 });
    const done = await rollout(owner, `policyId: "${policy.id}"`);
    assert.deepEqual({ live: done.live, complete: done.complete }, { live: 3, complete: true });
    assert.ok(done.clusters.every((r) => r.behindSince === null && r.lag === 0));
  });

  it('a policy scoped to one cloud scope rolls out to that scope only', async () => {
    const created = await h.gql<{ createPolicy: { id: string } }>(
      owner,
      `mutation { createPolicy(input: { name: "only-a", type: MISCONFIGURATION, action: AUDIT, scope: { cloudScopeIds: ["${scopeA}"] } }) { id } }`,
    );
    assert.equal(created.errors, undefined, JSON.stringify(created.errors));
    const r = await rollout(owner, `policyId: "${created.data!.createPolicy.id}"`);
    assert.deepEqual(
      r.clusters.map((c) => c.cluster.name),
      ['a1', 'a2'],
    );
  });

  it('an invalid report is refused naming the field and changes nothing', async () => {
    const before = await h.prisma.cluster.findUniqueOrThrow({ where: { id: clusters.a2.id } });
    const negative = await report(clusters.a2.token, { agentVersion: '9.9.9', spoolDepth: -1 });
    assert.equal(negative.status, 400);
    assert.match(negative.text, /spoolDepth/);
    const huge = await report(clusters.a2.token, { agentVersion: '9.9.9', droppedEvents: 2 ** 31 });
    assert.equal(huge.status, 400);
    assert.match(huge.text, /droppedEvents/);
    const future = await report(clusters.a2.token, { agentVersion: '9.9.9', appliedRevision: 99 });
    assert.equal(future.status, 400);
    assert.match(future.text, /appliedRevision 99 was never issued/);
    const noSuchDay = await report(clusters.a2.token, { agentVersion: '9.9.9', reportedAt: '2026-02-30T10:00:00Z' });
    assert.equal(noSuchDay.status, 400, noSuchDay.text);
    assert.match(noSuchDay.text, /reportedAt: 2026-02-30T10:00:00Z names no instant/);
    const unauthenticated = await h.http().post('/agent/v1/status').send({});
    assert.equal(unauthenticated.status, 401);
    const after = await h.prisma.cluster.findUniqueOrThrow({ where: { id: clusters.a2.id } });
    assert.equal(after.agentVersion, before.agentVersion);
    assert.equal(after.agentSpoolDepth, before.agentSpoolDepth);
  });

  it("a report time is read as PostgreSQL reads it: a leap second is the next minute's first", async () => {
    const res = await report(clusters.a2.token, { reportedAt: '2026-06-30T23:59:60Z' });
    assert.equal(res.status, 204, res.text);
    const row = await h.prisma.cluster.findUniqueOrThrow({
      where: { id: clusters.a2.id },
      select: { agentReportedAt: true },
    });
    assert.equal(row.agentReportedAt?.toISOString(), '2026-07-01T00:00:00.000Z');
  });

  it("a reader of one cloud scope sees only that scope's clusters", async () => {
    const reader = randomUUID();
    const assigned = await h.gql(
      owner,
      `mutation { assignRole(input: { principalId: "${reader}", role: SECURITY_READER, cloudScopeId: "${scopeB}" }) { id } }`,
    );
    assert.equal(assigned.errors, undefined, JSON.stringify(assigned.errors));
    const token = await h.token(tenantId, reader, 'reader-b');
    const policy = await defaultPolicy();
    const r = await rollout(token, `policyId: "${policy.id}"`);
    assert.deepEqual(
      r.clusters.map((c) => c.cluster.name),
      ['b1'],
    );
    const hidden = await h.gql(token, `{ bundleRollout(clusterId: "${clusters.a1.id}") { total } }`);
    assert.equal(hidden.errors?.[0]?.extensions?.code, 'NOT_FOUND');
  });

  it('asks for exactly one of policyId and clusterId', async () => {
    const both = await h.gql(
      owner,
      `{ bundleRollout(policyId: "${randomUUID()}", clusterId: "${clusters.a1.id}") { total } }`,
    );
    assert.equal(both.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    const neither = await h.gql(owner, '{ bundleRollout { total } }');
    assert.equal(neither.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    const notAnId = await h.gql(owner, '{ bundleRollout(policyId: "default") { total } }');
    assert.equal(notAnId.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.match(notAnId.errors?.[0]?.message ?? '', /policyId must be a UUID/);
  });
});
