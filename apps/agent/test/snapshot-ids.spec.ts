import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { generateSigningKey } from '@portcullis/bundle';
import { prepareSnapshot } from '@portcullis/contracts';
import { inspectObject } from '@portcullis/policy-engine';
import { ApiClient, eventLine, snapshotJson, splicedSnapshot, type EventInput } from '@portcullis/admission';
import { Backoff } from '../src/backoff';
import { SnapshotIds } from '../src/spool/snapshot-ids';
import { Spool } from '../src/spool/spool';
import { EventUploader } from '../src/spool/uploader';
import { CLUSTER, ControlPlane, eventually, newAgentToken, tempDir, testTls, type TestTls } from '@portcullis/testing';

const ID_A = 'a'.repeat(64);
const ID_B = 'b'.repeat(64);

/** A pod as the API server sends it for admission, one replica of `app`. */
function replica(app: string, suffix: string, image = 'registry.example.com/shop/web:1.4.0'): Record<string, unknown> {
  const token = `kube-api-access-${suffix}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${app}-5c9d8f7b6-`,
      name: `${app}-5c9d8f7b6-${suffix}`,
      namespace: 'shop',
      uid: `uid-${suffix}`,
      creationTimestamp: null,
      managedFields: [{ manager: 'kube-controller-manager' }],
    },
    spec: {
      containers: [
        {
          name: app,
          image,
          env: [{ name: 'PASSWORD', value: 'hunter2' }],
          volumeMounts: [{ name: token, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
        },
      ],
      volumes: [{ name: token, projected: { sources: [] } }],
    },
    status: { phase: 'Pending' },
  };
}

const input = (object: Record<string, unknown>): EventInput => ({
  request: {
    apiVersion: 'admission.k8s.io/v1',
    uid: 'r-1',
    operation: 'CREATE',
    kind: 'Pod',
    namespace: 'shop',
    name: '',
    object,
    dryRun: false,
    username: 'system:serviceaccount:kube-system:replicaset-controller',
  },
  namespace: 'shop',
  owner: { kind: 'Deployment', name: 'web' },
  images: ['registry.example.com/shop/web:1.4.0'],
  decision: 'ALLOWED',
  bundleRevision: 3,
  findings: [],
  clusterId: CLUSTER,
  occurredAt: new Date(),
});

const snapshotOf = (object: Record<string, unknown>) => snapshotJson(object, inspectObject(object, 'shop'))!;

describe('admission snapshots as the agent spools them', () => {
  it('replicas of one pod template serialise to one snapshot: no generated name, uid, managedFields, status or per-pod token volume; env values redacted', () => {
    const a = snapshotOf(replica('web', 'x1y2z'));
    assert.equal(a, snapshotOf(replica('web', 'q9r8s')));
    assert.notEqual(
      a,
      snapshotOf(replica('web', 'x1y2z', 'registry.example.com/shop/web:1.5.0')),
      'a different image is a different snapshot',
    );
    const parsed = JSON.parse(a) as {
      metadata: Record<string, unknown>;
      spec: { volumes: Array<{ name: string }>; containers: Array<{ env: Array<{ value: string }> }> };
      status?: unknown;
    };
    assert.deepEqual(Object.keys(parsed.metadata).sort(), ['generateName', 'namespace']);
    assert.equal(parsed.status, undefined);
    assert.equal(parsed.spec.volumes[0]!.name, 'kube-api-access');
    assert.equal(parsed.spec.containers[0]!.env[0]!.value, '(redacted by the agent)');
  });

  it('splices the snapshot, or the id it is stored under, into the event line, and reads either back', () => {
    const json = snapshotOf(replica('web', 'x1y2z'));
    const full = eventLine(input(replica('web', 'x1y2z')), json).line;
    assert.deepEqual(splicedSnapshot(Buffer.from(full)), { json });
    assert.deepEqual((JSON.parse(full) as { snapshot: unknown }).snapshot, JSON.parse(json));
    const byId = eventLine(input(replica('web', 'q9r8s')), { id: ID_A }).line;
    assert.deepEqual(splicedSnapshot(Buffer.from(byId)), { id: ID_A });
    assert.equal((JSON.parse(byId) as { snapshotHash: string }).snapshotHash, ID_A);
    assert.equal(splicedSnapshot(Buffer.from(eventLine(input(replica('web', 'x1y2z')), undefined).line)), undefined);
    // a user name or label that mentions the key is inside a JSON string: its quotes are escaped
    const tricky = eventLine(
      {
        ...input(replica('web', 'x1y2z')),
        request: { ...input(replica('web', 'x1y2z')).request, username: ',"snapshot":{"x":1}' },
      },
      json,
    ).line;
    assert.deepEqual(splicedSnapshot(Buffer.from(tricky)), { json });
  });
});

describe('snapshot ids the agent learnt', () => {
  it('are used for their lifetime only, then the snapshot goes in full again', () => {
    let now = 1_000;
    const ids = new SnapshotIds({ maxChars: 1_000, maxSnapshotChars: 500, ttlMs: 60_000 }, () => now);
    ids.learn('{"a":1}', ID_A);
    assert.equal(ids.idOf('{"a":1}'), ID_A);
    assert.equal(ids.idOf('{"a":2}'), undefined);
    now += 60_000;
    assert.equal(ids.idOf('{"a":1}'), undefined, 'expired');
    assert.equal(ids.size, 0);
  });

  it('hold at most maxChars of keys, forgetting the oldest learnt first, and never a snapshot over maxSnapshotChars', () => {
    const ids = new SnapshotIds({ maxChars: 300, maxSnapshotChars: 120, ttlMs: 60_000 }, () => 0);
    const json = (n: number) => `{"n":"${String(n).padStart(100, '0')}"}`; // 108 characters
    ids.learn(json(1), ID_A);
    ids.learn(json(2), ID_B);
    ids.learn(json(1), ID_A); // learnt again: now the newest
    ids.learn(json(3), ID_B);
    assert.equal(ids.size, 2);
    assert.equal(ids.idOf(json(2)), undefined, 'the oldest went');
    assert.equal(ids.idOf(json(1)), ID_A);
    ids.learn(`{"big":"${'x'.repeat(200)}"}`, ID_A);
    assert.equal(ids.size, 2);
  });

  it('forgets every snapshot stored under an id the API says it does not hold', () => {
    const ids = new SnapshotIds();
    ids.learn('{"a":1}', ID_A);
    ids.learn('{"b":1}', ID_B);
    ids.forget(ID_A);
    assert.deepEqual([ids.idOf('{"a":1}'), ids.idOf('{"b":1}')], [undefined, ID_B]);
  });
});

describe('the uploader learns snapshot ids from the API answer', () => {
  const token = newAgentToken();
  let tls: TestTls;
  let api: ControlPlane;
  before(async () => {
    tls = testTls();
    api = await new ControlPlane(tls, token, generateSigningKey()).start();
  });
  after(() => api.stop());

  const run = async (lines: readonly string[], ids: SnapshotIds) => {
    const spool = new Spool({ dir: tempDir(), maxEvents: 1000, maxBytes: 10 * 1024 * 1024, segmentBytes: 1024 * 1024 });
    spool.open();
    const client = new ApiClient(new URL(api.url), token, CLUSTER, 'test', tls.caPem);
    const u = new EventUploader(
      spool,
      client,
      { batchSize: 50, flushIntervalMs: 20, maxBatchBytes: 1024 * 1024 },
      new Backoff(10, 50),
      pino({ level: 'silent' }),
      { snapshotIds: ids },
    );
    u.start();
    for (const l of lines) await spool.append(l);
    await eventually('the spool to drain', () => spool.depth === 0);
    await u.close();
    client.close();
    await spool.close();
  };

  it('each snapshot uploaded in full is then known by the id the API named; an id the API does not hold is forgotten', async () => {
    const web = snapshotOf(replica('web', 'x1y2z'));
    const db = snapshotOf(replica('db', 'x1y2z', 'registry.example.com/shop/db:16'));
    const ids = new SnapshotIds();
    await run(
      [
        eventLine(input(replica('web', 'x1y2z')), web).line,
        eventLine(input(replica('web', 'q9r8s')), web).line,
        eventLine(input(replica('db', 'x1y2z')), db).line,
      ],
      ids,
    );
    const idOf = (json: string) => prepareSnapshot(JSON.parse(json) as Record<string, unknown>).hash;
    assert.equal(ids.idOf(web), idOf(web));
    assert.equal(ids.idOf(db), idOf(db));

    // an id the API does not hold (its database restored, say): the event is stored, the agent forgets the id
    ids.learn('{"kind":"Pod","spec":{}}', ID_B);
    const stale = eventLine(input(replica('web', 'k7l8m')), { id: ID_B });
    await run([stale.line, eventLine(input(replica('web', 'n0p1q')), { id: ids.idOf(web)! }).line], ids);
    assert.equal(ids.idOf('{"kind":"Pod","spec":{}}'), undefined);
    assert.equal(ids.idOf(web), idOf(web), 'an id the API holds stays');
    assert.equal(api.events.get(stale.eventId)?.snapshotHash, ID_B);
  });

  it('an API that answers without ids (older than them) leaves every snapshot going in full', async () => {
    api.withoutSnapshotIds = true;
    try {
      const ids = new SnapshotIds();
      const web = snapshotOf(replica('web', 'x1y2z'));
      await run([eventLine(input(replica('web', 'x1y2z')), web).line], ids);
      assert.equal(ids.size, 0);
    } finally {
      api.withoutSnapshotIds = false;
    }
  });
});
