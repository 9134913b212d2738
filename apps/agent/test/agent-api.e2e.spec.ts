/**
 * The agent against the real API and worker: register a cluster, start the agent with
 * the returned credential, switch the default policy to BLOCK, the agent picks up the
 * new revision through the long poll, a review is denied, the API knows which
 * revision the agent enforces, and the admission events arrive in the API's inventory.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { INestApplicationContext } from '@nestjs/common';
import {
  NO_DB_REASON,
  agentEnv,
  eventually,
  memoryLogger,
  postReview,
  reviewOf,
  startApi,
  startWorker,
  tempDir,
  testDatabaseConfigured,
  testTls,
  type ApiHarness,
  type TestTls,
} from '@portcullis/testing';
import { Agent } from '../src/agent';
import { loadAgentConfig } from '../src/config';

const privilegedPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'shop' },
  spec: { containers: [{ name: 'web', image: 'ghcr.io/acme/web:1.4.2', securityContext: { privileged: true } }] },
};

describe('agent e2e with the real API and worker', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let worker: INestApplicationContext;
  let agent: Agent;
  let running: { webhookPort: number; stop(): Promise<void> };
  let tls: TestTls;
  let owner: string;
  let tenantId: string;
  let clusterId: string;

  before(async () => {
    h = await startApi();
    worker = await startWorker(h.config);
    await h.app.listen(0, '127.0.0.1');
    const apiUrl = `http://127.0.0.1:${(h.app.getHttpServer().address() as AddressInfo).port}`;
    const t = await h.onboard('Agent e2e');
    owner = t.ownerToken;
    tenantId = t.tenantId;
    const scope = await h.gql<{ createCloudScope: { id: string } }>(
      owner,
      'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "666666666666", displayName: "agent" }) { id } }',
    );
    const reg = await h.gql<{ registerCluster: { cluster: { id: string }; agentToken: string } }>(
      owner,
      `mutation { registerCluster(input: { cloudScopeId: "${scope.data!.createCloudScope.id}", name: "agent-e2e", distribution: EKS }) { cluster { id } agentToken } }`,
    );
    assert.equal(reg.errors, undefined, JSON.stringify(reg.errors));
    clusterId = reg.data!.registerCluster.cluster.id;
    const jwks = (await h.http().get('/.well-known/jwks.json').expect(200)).body as { keys: [] };
    tls = testTls();
    const env = agentEnv({
      dir: tempDir(),
      apiUrl,
      token: reg.data!.registerCluster.agentToken,
      jwks,
      tls,
      clusterId,
      extra: { PORTCULLIS_BUNDLE_WAIT_SECONDS: '10', PORTCULLIS_EVENT_FLUSH_INTERVAL_MS: '200' },
    });
    agent = new Agent(loadAgentConfig(env), memoryLogger().log);
    running = await agent.start();
  });
  after(async () => {
    await running?.stop();
    await worker?.close();
    await h?.close();
  });

  it('enforces revision 1 (default policies, Audit): allowed with warnings, the vulnerability lookup answered by the API', async () => {
    await eventually('revision 1 from the API', () => agent.store.revision === 1, 60_000);
    const r = await postReview(running.webhookPort, tls.caPem, JSON.stringify(reviewOf(privilegedPod)));
    assert.equal(r.review.response.allowed, true);
    const warnings = r.review.response.warnings ?? [];
    assert.ok(
      warnings.some((w) =>
        /policy "Default K8s misconfiguration rule", rule privileged-container, container "web"/.test(w),
      ),
      warnings.join('\n'),
    );
    // no scan report was ever uploaded for this image: the real lookup endpoint answers NOT_FOUND
    assert.ok(
      warnings.some((w) =>
        /policy "Default vulnerability gating rule", rule vulnerability-assessment-required, container "web": .*no vulnerability assessment/.test(
          w,
        ),
      ),
      warnings.join('\n'),
    );
  });

  it('the default policy switched to BLOCK: the agent picks up revision 2 and denies; the API records the applied revision', async () => {
    const policy = await h.prisma.policy.findFirstOrThrow({
      where: { tenantId, isDefault: true, type: 'MISCONFIGURATION' },
      select: { id: true, version: true },
    });
    const changed = await h.gql(
      owner,
      `mutation { updatePolicy(id: "${policy.id}", input: { version: ${policy.version}, action: BLOCK }) { version } }`,
    );
    assert.equal(changed.errors, undefined, JSON.stringify(changed.errors));
    await eventually('revision 2 through the long poll', () => agent.store.revision === 2, 60_000);
    const r = await postReview(running.webhookPort, tls.caPem, JSON.stringify(reviewOf(privilegedPod)));
    assert.equal(r.review.response.allowed, false);
    assert.match(
      r.review.response.status!.message,
      /^portcullis denied Pod shop\/web: \d+ violations of Block-mode policies$/m,
    );
    assert.match(
      r.review.response.status!.message,
      /^- policy "Default K8s misconfiguration rule", rule privileged-container, container "web": /m,
    );
    assert.equal(r.review.response.auditAnnotations?.['bundle-revision'], '2');
    await eventually('the API to know the agent enforces revision 2', async () => {
      const c = await h.prisma.cluster.findUniqueOrThrow({
        where: { id: clusterId },
        select: { appliedRevision: true, agentVersion: true },
      });
      return c.appliedRevision === 2 && c.agentVersion === '0.1.0';
    });
  });

  it('the admission events arrive at the API: queryable in the inventory with decision, revision and findings', async () => {
    interface Node {
      decision: string;
      bundleRevision: number | null;
      clusterId: string;
      namespace: string | null;
      name: string;
      kind: string;
      images: string[];
      hasSnapshot: boolean;
      findings: Array<{ ruleId: string; action: string; container: string | null }>;
    }
    let nodes: Node[] = [];
    await eventually(
      'both admissions in the inventory',
      async () => {
        const res = await h.gql<{ admissionEvents: { edges: Array<{ node: Node }> } }>(
          owner,
          `{ admissionEvents(first: 10, filter: { clusterId: "${clusterId}", namespace: "shop" }) { edges { node { decision bundleRevision clusterId namespace name kind images hasSnapshot findings { ruleId action container } } } } }`,
        );
        assert.equal(res.errors, undefined, JSON.stringify(res.errors));
        nodes = res.data!.admissionEvents.edges.map((e) => e.node);
        return nodes.length >= 2;
      },
      30_000,
    );
    const byRevision = new Map(nodes.map((n) => [n.bundleRevision, n]));
    const audited = byRevision.get(1)!;
    const denied = byRevision.get(2)!;
    assert.equal(nodes.length, 2, 'each admission recorded once');
    assert.deepEqual(
      { d: audited.decision, k: audited.kind, n: audited.name, c: audited.clusterId },
      { d: 'AUDITED', k: 'Pod', n: 'web', c: clusterId },
    );
    assert.equal(denied.decision, 'DENIED');
    assert.deepEqual(denied.images, ['ghcr.io/acme/web:1.4.2']);
    assert.ok(denied.hasSnapshot, 'the evaluated pod was recorded for simulation');
    assert.ok(
      denied.findings.some((f) => f.ruleId === 'privileged-container' && f.action === 'BLOCK' && f.container === 'web'),
      JSON.stringify(denied.findings),
    );
  });

  it('replicas admitted after the first upload send the snapshot by the id the API named: one stored snapshot, every event linked to it', async () => {
    // what the ReplicaSet controller creates: generated name, uid, and a token volume named per pod
    const replica = (suffix: string) => {
      const token = `kube-api-access-${suffix}`;
      return {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: 'api-6f7d8c9b5-',
          name: `api-6f7d8c9b5-${suffix}`,
          namespace: 'ids',
          uid: randomUUID(),
          labels: { app: 'api' },
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'api-6f7d8c9b5', uid: 'rs-uid', controller: true },
          ],
        },
        spec: {
          containers: [
            {
              name: 'api',
              image: 'ghcr.io/acme/api:2.0.1',
              resources: { limits: { cpu: '1', memory: '256Mi' } },
              volumeMounts: [
                { name: token, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
              ],
            },
          ],
          volumes: [{ name: token, projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } }],
        },
      };
    };
    const sent = () =>
      agent.metrics.snapshots.get().then((m) => Object.fromEntries(m.values.map((v) => [v.labels['sent'], v.value])));
    const before = await sent();
    await postReview(running.webhookPort, tls.caPem, JSON.stringify(reviewOf(replica('a1b2c'))));
    // the first replica's event is uploaded, and the API's answer names its snapshot
    await eventually(
      'the first replica stored',
      async () => (await h.prisma.admissionEvent.count({ where: { tenantId, namespace: 'ids' } })) === 1,
      30_000,
    );
    await eventually('the agent to have read the answer', () => agent.spool.depth === 0, 30_000);
    for (const suffix of ['d3e4f', 'g5h6i'])
      await postReview(running.webhookPort, tls.caPem, JSON.stringify(reviewOf(replica(suffix))));
    const after = await sent();
    assert.deepEqual(
      { full: after['in_full']! - before['in_full']!, byId: after['by_id']! - before['by_id']! },
      { full: 1, byId: 2 },
    );
    await eventually(
      'all three replicas stored',
      async () => (await h.prisma.admissionEvent.count({ where: { tenantId, namespace: 'ids' } })) === 3,
      30_000,
    );
    const rows = await h.prisma.admissionEvent.findMany({
      where: { tenantId, namespace: 'ids' },
      select: { snapshotHash: true, name: true },
    });
    const hashes = new Set(rows.map((r) => Buffer.from(r.snapshotHash!).toString('hex')));
    assert.equal(hashes.size, 1, 'one snapshot for the three replicas');
    const stored = await h.prisma.admissionSnapshot.findMany({
      where: { tenantId, hash: Buffer.from([...hashes][0]!, 'hex') },
    });
    assert.equal(stored.length, 1);
    assert.deepEqual(
      rows.map((r) => r.name).sort(),
      ['api-6f7d8c9b5-a1b2c', 'api-6f7d8c9b5-d3e4f', 'api-6f7d8c9b5-g5h6i'],
      'each event keeps its own pod name',
    );
    const listed = await h.gql<{ admissionEvents: { edges: Array<{ node: { hasSnapshot: boolean } }> } }>(
      owner,
      `{ admissionEvents(first: 10, filter: { namespace: "ids" }) { edges { node { hasSnapshot } } } }`,
    );
    assert.deepEqual(
      listed.data!.admissionEvents.edges.map((e) => e.node.hasSnapshot),
      [true, true, true],
    );
  });
});
