/**
 * The worker process is killed with SIGKILL in the middle of a 1,000-cluster fan-out
 * (no shutdown hook runs, its transaction is cut off). A restarted worker takes the
 * job over once its lock lapses: every cluster converges to the right revision, none
 * is skipped, none gets a revision twice or a second revision for the same content.
 * Real API (outbox path), real worker process, PostgreSQL and Redis.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { contentHash, fromJwks, verifyBundle, type BundleDocument } from '@portcullis/bundle';
import { repoPath } from '@portcullis/config';
import { NO_DB_REASON, startApi, testDatabaseConfigured, type ApiHarness } from '@portcullis/testing';

const CLUSTERS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('worker killed with SIGKILL mid fan-out', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  // a queue of its own: workers of other test files must not take this test's jobs
  const redisPrefix = `${process.env['REDIS_PREFIX'] ?? 'portcullis-test'}-crash`;
  let h: ApiHarness;
  const workers: ChildProcess[] = [];
  const workerErrors: string[] = [];

  /** The worker exactly as `npm start` runs it: its own process, compiled entry point. */
  function startWorkerProcess(): ChildProcess {
    const child = spawn(process.execPath, [repoPath('dist', 'apps', 'worker', 'src', 'main.js')], {
      env: {
        ...process.env,
        REDIS_PREFIX: redisPrefix,
        LOG_LEVEL: 'error',
        // small chunks: the kill lands between two committed chunks, not before the first
        BUNDLE_COMPILE_CHUNK_SIZE: '25',
        // the job of a killed worker is taken over after 2 s instead of 30
        WORKER_JOB_LOCK_SECONDS: '2',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => workerErrors.push(d));
    workers.push(child);
    return child;
  }

  async function atRevision(tenantId: string, revision: number): Promise<number> {
    return h.prisma.cluster.count({ where: { tenantId, bundleRevision: { gte: revision } } });
  }

  async function waitForAll(tenantId: string, revision: number): Promise<void> {
    const deadline = Date.now() + 120_000;
    while ((await atRevision(tenantId, revision)) < CLUSTERS) {
      assert.ok(
        Date.now() < deadline,
        `not every cluster reached revision ${revision}; worker stderr: ${workerErrors.join('')}`,
      );
      await sleep(50);
    }
  }

  before(async () => {
    h = await startApi({ REDIS_PREFIX: redisPrefix });
  });
  after(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await h?.close();
  });

  it('converges after restart: every cluster at the new revision exactly once, content signed once', async (t) => {
    const tenant = await h.onboard('Crash recovery');
    const scope = await h.gql<{ createCloudScope: { id: string } }>(
      tenant.ownerToken,
      'mutation { createCloudScope(input: { provider: AZURE_SUBSCRIPTION, externalId: "3f2c7a4e-1b8d-4c1e-9a57-0c6f5e2d9b10", displayName: "crash" }) { id } }',
    );
    assert.equal(scope.errors, undefined, JSON.stringify(scope.errors));
    // a fleet of 1,000 clusters, inserted in bulk (registering through GraphQL is not what is under test)
    await h.prisma.cluster.createMany({
      data: Array.from({ length: CLUSTERS }, (_, i) => ({
        tenantId: tenant.tenantId,
        cloudScopeId: scope.data!.createCloudScope.id,
        name: `crash-${i}`,
        distribution: 'AKS' as const,
        agentTokenId: randomUUID().replace(/-/g, ''),
        agentTokenHash: '0'.repeat(64),
      })),
    });
    const policies = await h.prisma.policy.findMany({
      where: { tenantId: tenant.tenantId, isDefault: true },
      orderBy: { type: 'asc' },
    });
    const [misconfiguration, vulnerability] = policies as [(typeof policies)[0], (typeof policies)[0]];
    const update = async (id: string, version: number) => {
      const res = await h.gql(
        tenant.ownerToken,
        `mutation { updatePolicy(id: "${id}", input: { version: ${version}, action: BLOCK }) { version } }`,
      );
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    };

    // revision 1 everywhere, through the outbox, by a first worker
    let worker = startWorkerProcess();
    await update(vulnerability.id, vulnerability.version);
    await waitForAll(tenant.tenantId, 1);

    // the measured change; the worker is killed once some, not all, clusters hold revision 2
    await update(misconfiguration.id, misconfiguration.version);
    let doneAtKill = 0;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(2)) {
      doneAtKill = await atRevision(tenant.tenantId, 2);
      if (doneAtKill >= CLUSTERS / 4) break;
    }
    worker.kill('SIGKILL');
    await new Promise((r) => worker.once('exit', r));
    assert.equal(worker.signalCode, 'SIGKILL');
    const afterKill = await atRevision(tenant.tenantId, 2);
    assert.ok(
      doneAtKill > 0 && afterKill < CLUSTERS,
      `the kill landed mid fan-out (${doneAtKill} done when killed, ${afterKill} after)`,
    );

    t.diagnostic(`killed with ${doneAtKill}/${CLUSTERS} clusters at the new revision (${afterKill} after the kill)`);
    worker = startWorkerProcess();
    await waitForAll(tenant.tenantId, 2);
    // the taken-over job has finished: nothing more gets stored
    await sleep(3000);

    const clusters = await h.prisma.cluster.findMany({
      where: { tenantId: tenant.tenantId },
      select: { id: true, bundleRevision: true, bundleContentHash: true },
    });
    assert.equal(clusters.length, CLUSTERS);
    assert.deepEqual(
      [...new Set(clusters.map((c) => c.bundleRevision))],
      [2],
      'every cluster is at revision 2: none skipped, none bumped twice',
    );
    const bundles = await h.prisma.bundle.findMany({
      where: { tenantId: tenant.tenantId },
      select: { clusterId: true, revision: true, contentHash: true, envelope: true },
    });
    assert.equal(bundles.length, 2 * CLUSTERS, 'exactly revisions 1 and 2 of each cluster were stored');

    const keys = fromJwks((await h.http().get('/.well-known/jwks.json').expect(200)).body);
    const hashes = new Set<string>();
    for (const b of bundles.filter((x) => x.revision === 2)) {
      const v = verifyBundle(b.envelope, { trustedKeys: keys, clusterId: b.clusterId, now: new Date() });
      assert.ok(v.ok, `${b.clusterId}: ${JSON.stringify(v)}`);
      const doc: BundleDocument = v.bundle;
      assert.equal(contentHash(doc), b.contentHash, 'the stored hash is the hash of what was signed');
      assert.equal(doc.policies.find((p) => p.id === misconfiguration.id)?.action, 'BLOCK');
      assert.equal(doc.policies.find((p) => p.id === vulnerability.id)?.action, 'BLOCK');
      hashes.add(JSON.stringify(doc.policies));
    }
    assert.equal(hashes.size, 1, 'every cluster got the same policies');
  });
});
