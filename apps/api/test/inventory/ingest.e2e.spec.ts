import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { MAX_BATCH_JSON_BYTES, MAX_BATCH_WIRE_BYTES } from '@portcullis/contracts';
import { EVENT_ROW_ATTRIBUTES, EVENT_ROW_TYPE } from '@portcullis/inventory';
import { RollupFlusher } from '../../src/inventory/rollup-flusher';
import {
  NO_DB_REASON,
  admissionEvent as admission,
  finding,
  startApi,
  testDatabaseConfigured,
  type ApiHarness,
} from '@portcullis/testing';
import { podSnapshot, post, scopeWithCluster, upload, type TestCluster } from './support';

describe('POST /agent/v1/admission-events', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let tenantId: string;
  let cluster: TestCluster;
  let other: TestCluster;
  const POLICY = randomUUID();

  before(async () => {
    h = await startApi();
    const t = await h.onboard('Inventory ingest');
    tenantId = t.tenantId;
    cluster = await scopeWithCluster(h, t.ownerToken, '111111111111', 'ingest-a');
    other = await scopeWithCluster(h, t.ownerToken, '222222222222', 'ingest-b');
  });
  after(async () => h?.close());

  const counts = async () => {
    // what a report does before reading the rollups: fold what the tenant has staged
    await h.app.get(RollupFlusher).flushTenant(tenantId);
    const [events, rollup, workloads, snapshots, snapshotDays] = await Promise.all([
      h.prisma.admissionEvent.count({ where: { tenantId } }),
      h.prisma.admissionRollupHourly.aggregate({ where: { tenantId, policyId: '' }, _sum: { admissions: true } }),
      h.prisma.$queryRaw<
        [{ n: bigint | null }]
      >`SELECT sum(admissions_through[31]) AS n FROM admission_workload_months WHERE tenant_id = ${tenantId}::uuid`,
      h.prisma.admissionSnapshot.count({ where: { tenantId } }),
      h.prisma.admissionSnapshotDay.aggregate({ where: { tenantId }, _sum: { admissions: true } }),
    ]);
    return {
      events,
      rollup: Number(rollup._sum.admissions ?? 0),
      workloads: Number(workloads[0].n ?? 0),
      snapshots,
      snapshotDays: Number(snapshotDays._sum.admissions ?? 0),
    };
  };

  it('stores a gzipped batch once: a re-send inserts nothing and adds nothing to the rollups', async () => {
    const before = await counts();
    const events = [
      admission({
        decision: 'AUDITED',
        findings: [finding(POLICY, 'privilege-escalation'), finding(POLICY, 'resource-limits')],
        snapshot: podSnapshot('shop', 'web'),
      }),
      admission({
        decision: 'AUDITED',
        findings: [finding(POLICY, 'privilege-escalation')],
        snapshot: podSnapshot('shop', 'web'),
      }),
      admission({
        namespace: 'billing',
        owner: { kind: 'StatefulSet', name: 'db' },
        decision: 'EXEMPTED',
        findings: [finding(POLICY, 'run-as-non-root', { exempted: true, exemptionId: 'ex-1' })],
      }),
      admission({
        namespace: undefined,
        kind: 'ClusterRole',
        apiVersion: 'rbac.authorization.k8s.io/v1',
        name: 'viewer',
        owner: { kind: 'ClusterRole', name: 'viewer' },
        images: [],
      }),
    ];
    const first = await upload(h, cluster.token, events, { gzip: true });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const [snapshot] = await h.prisma.admissionSnapshot.findMany({ where: { tenantId }, select: { hash: true } });
    const hash = Buffer.from(snapshot!.hash).toString('hex');
    // the one snapshot is named once, by the first event that carried it: the id the agent may send instead
    assert.deepEqual(first.body, {
      accepted: 4,
      duplicates: 0,
      expired: 0,
      snapshots: [{ index: 0, hash }],
      unknownSnapshots: [],
    });
    const stored = await counts();
    // two replicas of one Deployment share one snapshot (volatile metadata is not part of it)
    assert.deepEqual(
      {
        events: stored.events - before.events,
        rollup: stored.rollup - before.rollup,
        snapshots: stored.snapshots - before.snapshots,
        snapshotDays: stored.snapshotDays - before.snapshotDays,
      },
      { events: 4, rollup: 4, snapshots: 1, snapshotDays: 2 },
    );

    const again = await upload(h, cluster.token, events, { gzip: true });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, {
      accepted: 0,
      duplicates: 4,
      expired: 0,
      snapshots: [{ index: 0, hash }],
      unknownSnapshots: [],
    });
    // half old, half new: only the new ones count
    const fresh = admission({ decision: 'AUDITED', findings: [finding(POLICY, 'resource-limits')] });
    const mixed = await upload(h, cluster.token, [events[0], fresh]);
    assert.deepEqual(mixed.body, {
      accepted: 1,
      duplicates: 1,
      expired: 0,
      snapshots: [{ index: 0, hash }],
      unknownSnapshots: [],
    });
    const after = await counts();
    assert.deepEqual(
      { ...after, events: after.events - 1, rollup: after.rollup - 1, workloads: after.workloads - 2 },
      stored,
    );

    const rows = await h.prisma.admissionEvent.findMany({
      where: { tenantId, clusterId: cluster.id },
      select: { cloudScopeId: true, namespace: true },
    });
    assert.ok(rows.every((r) => r.cloudScopeId === cluster.cloudScopeId));
    assert.ok(
      rows.some((r) => r.namespace === ''),
      'a cluster-scoped object is stored with namespace ""',
    );
  });

  it('stores a batch uploaded twice at the same time once, and counts it once', async () => {
    const before = await counts();
    const policy = randomUUID(); // not POLICY: a later test counts that policy's rollups
    const events = Array.from({ length: 200 }, (_, i) =>
      admission({
        decision: 'AUDITED',
        findings: [finding(policy, i % 2 ? 'resource-limits' : 'privilege-escalation')],
      }),
    );
    // the second insert waits for the first's transaction, then fails on the key and is stored again skipping what is there
    const [a, b] = await Promise.all([
      upload(h, cluster.token, events, { gzip: true }),
      upload(h, cluster.token, events),
    ]);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(b.status, 200, JSON.stringify(b.body));
    const answers = [a.body, b.body] as Array<{ accepted: number; duplicates: number }>;
    assert.equal(answers[0]!.accepted + answers[1]!.accepted, 200);
    assert.equal(answers[0]!.duplicates + answers[1]!.duplicates, 200);
    const after = await counts();
    assert.deepEqual(
      { events: after.events - before.events, rollup: after.rollup - before.rollup },
      { events: 200, rollup: 200 },
    );
  });

  it('takes a stored snapshot by its id: the event refers to it, its last-seen day moves up, an id the tenant does not hold is reported', async () => {
    // first admitted three days ago: stored with that last-seen day; the references below are of
    // yesterday and today, days the API does not know the snapshot to be seen on, so the
    // statement checks them and moves the day up to the latest
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000).toISOString();
    const sent = await upload(h, cluster.token, [
      admission({ snapshot: podSnapshot('refs', 'api'), occurredAt: threeDaysAgo }),
    ]);
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    const hash = (sent.body as { snapshots: Array<{ hash: string }> }).snapshots[0]!.hash;
    const stored = await h.prisma.admissionSnapshot.findUniqueOrThrow({
      where: { tenantId_hash: { tenantId, hash: Buffer.from(hash, 'hex') } },
    });
    assert.equal(stored.lastSeenDay.toISOString().slice(0, 10), threeDaysAgo.slice(0, 10));

    // a tenant's snapshot is not another tenant's to refer to
    const stranger = await h.onboard('Inventory refs stranger');
    const strangerCluster = await scopeWithCluster(h, stranger.ownerToken, '333333333333', 'refs-stranger');
    const theirs = await upload(h, strangerCluster.token, [admission({ snapshot: podSnapshot('refs', 'theirs') })]);
    const theirHash = (theirs.body as { snapshots: Array<{ hash: string }> }).snapshots[0]!.hash;

    const before = await counts();
    const yesterday = new Date(Date.now() - 86_400_000).toISOString();
    const replica = admission({ snapshotHash: hash, name: 'api-5d8f7c9b6-k2l3m', occurredAt: yesterday });
    const missing = admission({ snapshotHash: 'ab'.repeat(32), occurredAt: yesterday });
    const foreign = admission({ snapshotHash: theirHash, occurredAt: yesterday });
    const res = await upload(h, cluster.token, [replica, missing, admission({ snapshotHash: hash }), foreign]);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { accepted: 4, duplicates: 0, expired: 0, snapshots: [], unknownSnapshots: [1, 3] });
    const after = await counts();
    assert.deepEqual(
      { events: after.events - before.events, snapshots: after.snapshots - before.snapshots },
      { events: 4, snapshots: 0 },
    );
    const row = await h.prisma.admissionEvent.findFirstOrThrow({
      where: { tenantId, eventId: replica.eventId },
      select: { snapshotHash: true },
    });
    assert.equal(Buffer.from(row.snapshotHash!).toString('hex'), hash);
    const seen = await h.prisma.admissionSnapshot.findUniqueOrThrow({
      where: { tenantId_hash: { tenantId, hash: stored.hash } },
    });
    assert.equal(
      seen.lastSeenDay.getTime(),
      stored.lastSeenDay.getTime() + 3 * 86_400_000,
      'moved up to the latest day it was referred to',
    );
    // the event with an unknown id is kept (its admission happened); it only cannot be evaluated again
    const orphan = await h.prisma.admissionEvent.findFirstOrThrow({
      where: { tenantId, eventId: missing.eventId },
      select: { snapshotHash: true },
    });
    assert.equal(Buffer.from(orphan.snapshotHash!).toString('hex'), 'ab'.repeat(32));
  });

  it('refuses an event that sends its snapshot and an id, or an id that is not one, naming the field', async () => {
    const before = await counts();
    const both = await upload(h, cluster.token, [
      admission(),
      admission({ snapshot: podSnapshot('shop', 'web'), snapshotHash: 'cd'.repeat(32) }),
    ]);
    assert.equal(both.status, 400, JSON.stringify(both.body));
    assert.equal(both.body.field, 'events[1].snapshotHash');
    assert.match(both.body.message, /cannot be sent with snapshot/);
    const malformed = await upload(h, cluster.token, [admission({ snapshotHash: 'CD'.repeat(32) })]);
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.field, 'events[0].snapshotHash');
    assert.match(malformed.body.message, /is not a snapshot id/);
    assert.deepEqual(await counts(), before);
  });

  it('keeps per-policy and per-rule outcomes in the rollups', async () => {
    await h.app.get(RollupFlusher).flushTenant(tenantId);
    const rows = await h.prisma.admissionRollupHourly.findMany({
      where: { tenantId, policyId: POLICY, clusterId: cluster.id },
      select: { ruleId: true, decision: true, admissions: true },
    });
    const sum = (rule: string, decision: string) =>
      rows.filter((r) => r.ruleId === rule && r.decision === decision).reduce((n, r) => n + Number(r.admissions), 0);
    assert.equal(sum('', 'AUDITED'), 3); // three admissions had a non-exempted finding of the policy
    assert.equal(sum('privilege-escalation', 'AUDITED'), 2);
    assert.equal(sum('resource-limits', 'AUDITED'), 2);
    assert.equal(sum('', 'EXEMPTED'), 1);
    assert.equal(sum('run-as-non-root', 'EXEMPTED'), 1);
  });

  it('stores text exactly, whatever characters array values carry', async () => {
    const groups = ['plain', 'with "quotes"', 'back\\slash', 'comma,and{braces}', 'NULL', 'ünïcødé ✓'];
    const e = admission({
      requestingUser: { username: 'u\t"x"', groups },
      images: ['registry.example.com/a:1', 'b"c'],
      name: 'tab\there',
    });
    const res = await upload(h, cluster.token, [e]);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const row = await h.prisma.admissionEvent.findFirstOrThrow({ where: { tenantId, eventId: e.eventId } });
    assert.deepEqual(
      [row.userGroups, row.images, row.username, row.name, row.uid],
      [groups, e.images, 'u\t"x"', 'tab\there', null],
    );
  });

  it('rejects a batch with an invalid event whole, naming its index', async () => {
    const before = await counts();
    const events = [admission(), admission(), admission({ decision: 'DENIED' }), admission()];
    const res = await upload(h, cluster.token, events);
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'BAD_USER_INPUT');
    assert.equal(res.body.index, 2);
    assert.equal(res.body.field, 'events[2].decision');
    assert.match(res.body.message, /events\[2\]\.decision: is DENIED but the findings make it ALLOWED/);
    assert.match(res.body.message, /rejected whole/);
    assert.deepEqual(await counts(), before);
  });

  it('rejects a batch in which an event claims another cluster, even one of the same tenant', async () => {
    const before = await counts();
    const res = await upload(h, cluster.token, [
      admission({ clusterId: cluster.id }),
      admission({ clusterId: other.id }),
    ]);
    assert.equal(res.status, 403);
    assert.equal(res.body.index, 1);
    assert.equal(res.body.field, 'events[1].clusterId');
    assert.match(
      res.body.message,
      new RegExp(`names cluster ${other.id}, but this credential belongs to cluster ${cluster.id}`),
    );
    assert.deepEqual(await counts(), before);
    // the cluster is always the credential's: the same batch with the other token lands on the other cluster
    const ok = await upload(h, other.token, [admission({ clusterId: other.id })]);
    assert.equal(ok.status, 200);
    assert.equal(await h.prisma.admissionEvent.count({ where: { tenantId, clusterId: other.id } }), 1);
  });

  it('refuses a snapshot that is not I-JSON (lone surrogate), naming the event', async () => {
    const body = JSON.stringify({ events: [admission(), admission({ snapshot: podSnapshot('shop', 'web') })] }).replace(
      'registry.example.com/app:1.0',
      'bad\\ud800',
    );
    const res = await post(h, cluster.token, body);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.index, 1);
    assert.match(res.body.message, /events\[1\]\.snapshot: cannot be stored/);
  });

  it('stores text with a lone surrogate outside the snapshot as U+FFFD, and text that only looks like an escape as sent', async () => {
    const id = randomUUID();
    const backslash = randomUUID();
    const body = JSON.stringify({
      events: [
        admission({
          eventId: id,
          decision: 'AUDITED',
          requestingUser: { username: 'LONE_MARK', groups: ['g'] },
          findings: [finding(POLICY, 'resource-limits', { message: 'msg LONE_MARK' })],
        }),
        admission({ eventId: backslash, requestingUser: { username: 'x\\ud800y' } }),
      ],
    }).replace(/LONE_MARK/g, 'a\\udc00b');
    const res = await post(h, cluster.token, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { accepted: 2, duplicates: 0, expired: 0, snapshots: [], unknownSnapshots: [] });
    const [lone, literal] = await Promise.all([
      h.prisma.admissionEvent.findFirstOrThrow({ where: { tenantId, eventId: id } }),
      h.prisma.admissionEvent.findFirstOrThrow({ where: { tenantId, eventId: backslash } }),
    ]);
    assert.equal(lone.username, 'a\ufffdb');
    assert.equal((lone.findings as Array<{ message: string }>)[0]!.message, 'msg a\ufffdb');
    assert.equal(literal.username, 'x\\ud800y');
  });

  it('refuses a NUL character (PostgreSQL text cannot hold it) naming the event and field, storing nothing of the batch', async () => {
    const before = await counts();
    const res = await post(
      h,
      cluster.token,
      JSON.stringify({ events: [admission(), admission({ requestingUser: { username: 'eve\u0000', groups: [] } })] }),
    );
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.index, 1);
    assert.match(res.body.message, /events\[1\]\.requestingUser\.username/);
    assert.deepEqual(await counts(), before);
  });

  it('rejects events from the future, and acknowledges events older than the retention without storing them', async () => {
    const future = await upload(h, cluster.token, [
      admission(),
      admission({ occurredAt: new Date(Date.now() + 3_600_000).toISOString() }),
    ]);
    assert.equal(future.status, 400);
    assert.equal(future.body.index, 1);
    assert.match(future.body.message, /events\[1\]\.occurredAt: .* in the future/);
    const before = await counts();
    const old = await upload(h, cluster.token, [
      admission({ occurredAt: new Date(Date.now() - 45 * 86_400_000).toISOString() }),
    ]);
    assert.deepEqual(old.body, { accepted: 0, duplicates: 0, expired: 1, snapshots: [], unknownSnapshots: [] });
    assert.deepEqual(await counts(), before);
  });

  it('stores an event time exactly as PostgreSQL reads its text, counts it in the rollups, and refuses a day its month does not have', async () => {
    // an hour ago, to the second: what follows adds digits, zones and a leap second to it
    const second = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000).toISOString().slice(0, 19);
    const texts = [
      `${second}.1234565Z`, // microseconds half to even, then milliseconds: .123
      `${second}.0005Z`, // half a millisecond: away from the epoch, .001
      `${second}.9999996Z`, // rounds into the next second
      `${second}.5+01:30`, // an offset (an hour and a half earlier)
      `${second.slice(0, 17)}60Z`, // a leap second: the next minute's first
      `${second}.123456789+00:00`,
    ];
    const before = await counts();
    const events = texts.map((occurredAt) => admission({ occurredAt }));
    const res = await upload(h, cluster.token, events);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal((res.body as { accepted: number }).accepted, texts.length);
    for (const [i, text] of texts.entries()) {
      const [expected] = await h.prisma.$queryRawUnsafe<[{ t: Date }]>('SELECT $1::timestamptz(3) AS t', text);
      const row = await h.prisma.admissionEvent.findFirstOrThrow({
        where: { tenantId, eventId: events[i]!.eventId },
        select: { occurredAt: true },
      });
      assert.equal(row.occurredAt.toISOString(), expected!.t.toISOString(), text);
    }
    // every one reached the rollups (the staging join matches the stored time)
    const after = await counts();
    assert.equal(after.rollup - before.rollup, texts.length);

    const lacking = await upload(h, cluster.token, [admission(), admission({ occurredAt: '2026-02-30T10:00:00Z' })]);
    assert.equal(lacking.status, 400, JSON.stringify(lacking.body));
    assert.equal(lacking.body.field, 'events[1].occurredAt');
    assert.match(lacking.body.message, /2026-02-30T10:00:00Z names no instant/);
    assert.deepEqual(await counts(), after);
  });

  it('the binary events parameter has the attributes of the database type, in order', async () => {
    const attributes = await h.prisma.$queryRaw<Array<{ name: string; oid: number }>>`
      SELECT a.attname AS name, a.atttypid::int AS oid FROM pg_attribute a JOIN pg_type t ON t.typrelid = a.attrelid
      WHERE t.typname = ${EVENT_ROW_TYPE} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`;
    assert.deepEqual(
      attributes.map((a) => [a.name, a.oid]),
      EVENT_ROW_ATTRIBUTES.map(([name, oid]) => [name, oid]),
    );
  });

  it('bounds the body on the wire and after decompression (413), and refuses what is not JSON', async () => {
    // a gzip bomb: a few KB on the wire, more than the JSON limit once inflated
    const bomb = gzipSync(
      Buffer.concat([Buffer.from('{"events":["'), Buffer.alloc(MAX_BATCH_JSON_BYTES + 1024, 0x61), Buffer.from('"]}')]),
    );
    assert.ok(bomb.length < MAX_BATCH_WIRE_BYTES);
    const inflated = await post(h, cluster.token, bomb, { 'Content-Encoding': 'gzip' });
    assert.equal(inflated.status, 413);
    assert.match(inflated.body.message, /decompresses to more than/);

    const big = await post(h, cluster.token, Buffer.alloc(MAX_BATCH_WIRE_BYTES + 10, 0x20));
    assert.equal(big.status, 413);
    assert.equal(big.body.code, 'PAYLOAD_TOO_LARGE');

    const notGzip = await post(h, cluster.token, '{"events":[]}', { 'Content-Encoding': 'gzip' });
    assert.equal(notGzip.status, 400);
    assert.match(notGzip.body.message, /not valid gzip/);

    const notJson = await post(h, cluster.token, '{"events": [');
    assert.equal(notJson.status, 400);
    assert.match(notJson.body.message, /not valid JSON/);

    const empty = await upload(h, cluster.token, []);
    assert.equal(empty.status, 400);
    assert.equal(empty.body.index, null);
  });

  it('inflates a body of several gzip members, and refuses one whose size trailer is wrong', async () => {
    // the chunk size comes from the last member's size trailer: here far smaller than the body
    const events = Array.from({ length: 40 }, () => admission());
    const json = Buffer.from(JSON.stringify({ events }));
    const members = Buffer.concat([
      gzipSync(json.subarray(0, json.length - 10)),
      gzipSync(json.subarray(json.length - 10)),
    ]);
    const res = await post(h, cluster.token, members, { 'Content-Encoding': 'gzip' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.accepted, 40);

    const lying = gzipSync(Buffer.from(JSON.stringify({ events: [admission()] })));
    lying.writeUInt32LE(lying.readUInt32LE(lying.length - 4) + 1, lying.length - 4);
    const refused = await post(h, cluster.token, lying, { 'Content-Encoding': 'gzip' });
    assert.equal(refused.status, 400);
    assert.match(refused.body.message, /not valid gzip/);
  });

  it('needs the cluster credential', async () => {
    const res = await post(h, undefined, JSON.stringify({ events: [admission()] }));
    assert.equal(res.status, 401);
    const user = await post(h, (await h.onboard()).ownerToken, JSON.stringify({ events: [admission()] }));
    assert.equal(user.status, 401);
  });
});
