/**
 * The background audit end to end: the stand-in Kubernetes API serving the workloads of
 * ../shared/fixtures/manifests with controller-owned pods, a real agent process (client-node,
 * in-cluster credentials from the stand-in), the real API and worker. Everything the agent
 * sees is asked back through GraphQL as the portal would.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { INestApplicationContext } from '@nestjs/common';
import {
  NO_DB_REASON,
  SHARED_MISSING,
  agentEnv,
  eventually,
  manifestWorkloads,
  putRunning,
  spawnAgent,
  startApi,
  startKubeApi,
  startWorker,
  tempDir,
  testDatabaseConfigured,
  testTls,
  type AgentProcess,
  type ApiHarness,
  type GqlResult,
  type KubeApiStandIn,
} from '@portcullis/testing';

interface Node {
  kind: string;
  namespace: string;
  name: string;
  pods: number;
  evaluatedRevision: number | null;
  wouldDeny: boolean;
  violations: Array<{ rule: string; action: string; container: string | null; policy: { id: string } | null }>;
}

interface RunningPage {
  runningWorkloads: { edges: Array<{ node: Node }>; pageInfo: { hasNextPage: boolean; endCursor: string } };
}

const PODS = 2;
const key = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

function metric(port: number, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () =>
          resolve(
            body
              .split('\n')
              .filter((l) => l.startsWith(name))
              .reduce((n, l) => n + Number(l.split(' ').pop()), 0),
          ),
        );
      })
      .on('error', reject);
  });
}

const skip = SHARED_MISSING || (testDatabaseConfigured ? false : NO_DB_REASON);

describe('background audit e2e: stand-in Kubernetes API, real agent process, real API and worker', { skip }, () => {
  let h: ApiHarness;
  let worker: INestApplicationContext;
  let kube: KubeApiStandIn;
  let agent: AgentProcess;
  let owner: string;
  let tenantId: string;
  let clusterId: string;
  const workloads = SHARED_MISSING ? [] : manifestWorkloads();
  const expected = new Map<string, number>();

  async function running(): Promise<Map<string, Node>> {
    const out = new Map<string, Node>();
    let after: string | null = null;
    for (;;) {
      const r: GqlResult<RunningPage> = await h.gql<RunningPage>(
        owner,
        `query($after: String) { runningWorkloads(filter: { clusterId: "${clusterId}" }, first: 100, after: $after) {
          edges { node { kind namespace name pods evaluatedRevision wouldDeny violations { rule action container policy { id } } } }
          pageInfo { hasNextPage endCursor } } }`,
        { after },
      );
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      const c = r.data!.runningWorkloads;
      for (const e of c.edges) {
        const k = key(e.node.kind, e.node.namespace, e.node.name);
        assert.ok(!out.has(k), `${k} listed twice`);
        out.set(k, e.node);
      }
      if (!c.pageInfo.hasNextPage) return out;
      after = c.pageInfo.endCursor;
    }
  }
  const matches = (held: Map<string, Node>) =>
    held.size === expected.size && [...expected].every(([k, pods]) => held.get(k)?.pods === pods);

  before(async () => {
    h = await startApi();
    worker = await startWorker(h.config);
    await h.app.listen(0, '127.0.0.1');
    const apiUrl = `http://127.0.0.1:${(h.app.getHttpServer().address() as AddressInfo).port}`;
    const t = await h.onboard('Background audit e2e');
    owner = t.ownerToken;
    tenantId = t.tenantId;
    const scope = await h.gql<{ createCloudScope: { id: string } }>(
      owner,
      'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "252525252525", displayName: "bg" }) { id } }',
    );
    const reg = await h.gql<{ registerCluster: { cluster: { id: string }; agentToken: string } }>(
      owner,
      `mutation { registerCluster(input: { cloudScopeId: "${scope.data!.createCloudScope.id}", name: "bg-e2e", distribution: EKS }) { cluster { id } agentToken } }`,
    );
    assert.equal(reg.errors, undefined, JSON.stringify(reg.errors));
    clusterId = reg.data!.registerCluster.cluster.id;
    kube = await startKubeApi();
    for (const w of workloads) {
      const meta = w['metadata'] as { namespace: string; name: string };
      const pods = putRunning(kube, w, PODS);
      if (meta.namespace !== 'kube-system') expected.set(key(String(w['kind']), meta.namespace, meta.name), pods);
    }
    const jwks = (await h.http().get('/.well-known/jwks.json').expect(200)).body as { keys: [] };
    agent = await spawnAgent(
      agentEnv({
        dir: tempDir(),
        apiUrl,
        token: reg.data!.registerCluster.agentToken,
        jwks,
        tls: testTls(),
        clusterId,
        extra: { ...kube.agentEnv, PORTCULLIS_BACKGROUND_BATCH_MS: '200', PORTCULLIS_BACKGROUND_LIST_PAGE_SIZE: '25' },
      }),
    );
  });
  after(async () => {
    if (agent) {
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
    await kube?.close();
    await worker?.close();
    await h?.close();
  });

  it('after start, every running workload and its violations are queryable through runningWorkloads', async () => {
    assert.ok(workloads.length >= 50);
    const held = await eventually(
      'every workload in runningWorkloads',
      async () => {
        const r = await running();
        return matches(r) ? r : undefined;
      },
      90_000,
    );
    const privileged = [...held.values()].filter((n) => n.violations.some((v) => v.rule === 'privileged-container'));
    assert.ok(privileged.length > 0, 'some fixture runs a privileged container');
    assert.ok([...held.values()].every((n) => n.evaluatedRevision === 1));
    assert.ok([...held.values()].every((n) => n.violations.every((v) => v.action === 'AUDIT')));
    assert.ok(![...held.values()].some((n) => n.wouldDeny), 'Audit mode denies nothing');
  });

  it('the default policy switched to Block with running violators: re-evaluated under the new revision, and not ready, naming them', async () => {
    const policy = await h.prisma.policy.findFirstOrThrow({
      where: { tenantId, isDefault: true, type: 'MISCONFIGURATION' },
      select: { id: true, version: true },
    });
    const changed = await h.gql(
      owner,
      `mutation { updatePolicy(id: "${policy.id}", input: { version: ${policy.version}, action: BLOCK }) { version } }`,
    );
    assert.equal(changed.errors, undefined, JSON.stringify(changed.errors));
    const held = await eventually(
      'revision 2 evaluated for every workload',
      async () => {
        const r = await running();
        return matches(r) && [...r.values()].every((n) => n.evaluatedRevision === 2) ? r : undefined;
      },
      90_000,
    );
    const violators = [...held.values()].filter((n) => n.wouldDeny);
    assert.ok(violators.length > 0);
    assert.ok(violators.every((n) => n.violations.some((v) => v.action === 'BLOCK' && v.policy?.id === policy.id)));
    const report = await h.gql<{
      auditToDenyReport: {
        readiness: { ready: boolean; reasons: string[]; runningWouldDeny: number };
        runningWouldDenyWorkloads: number;
        runningWouldDeny: Array<{ kind: string; namespace: string; name: string; source: string }>;
      };
    }>(
      owner,
      `{ auditToDenyReport(policyId: "${policy.id}") { readiness { ready reasons runningWouldDeny } runningWouldDenyWorkloads runningWouldDeny { kind namespace name source } } }`,
    );
    assert.equal(report.errors, undefined, JSON.stringify(report.errors));
    const r = report.data!.auditToDenyReport;
    assert.equal(r.readiness.ready, false);
    assert.equal(r.runningWouldDenyWorkloads, violators.length);
    const named = r.runningWouldDeny[0]!;
    assert.equal(named.source, 'RUNNING');
    assert.ok(held.get(key(named.kind, named.namespace, named.name))?.wouldDeny);
    assert.ok(
      r.readiness.reasons.some((line) => line.includes(named.name)),
      `no reason names ${named.name}: ${r.readiness.reasons.join(' | ')}`,
    );
  });

  it('a watch expiry (410): the agent lists again, and the API holds every workload once, with what changed meanwhile', async () => {
    kube.expireWatches();
    const late = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'late-arrival', namespace: 'shop' },
      spec: {
        selector: { matchLabels: { app: 'late' } },
        template: {
          metadata: { labels: { app: 'late' } },
          spec: { containers: [{ name: 'web', image: 'nginx:1.27', securityContext: { privileged: true } }] },
        },
      },
    };
    expected.set(key('Deployment', 'shop', 'late-arrival'), putRunning(kube, late, 3));
    await eventually(
      'a relist',
      async () => (await metric(agent.metricsPort, 'portcullis_agent_background_relists_total')) > 0,
    );
    const held = await eventually(
      'the state after the relist',
      async () => {
        const r = await running();
        return matches(r) ? r : undefined;
      },
      60_000,
    );
    const added = held.get(key('Deployment', 'shop', 'late-arrival'))!;
    assert.equal(added.pods, 3);
    assert.ok(added.wouldDeny);
  });

  it('a workload deleted: gone from the current state', async () => {
    const deployment = workloads.find((w) => w['kind'] === 'Deployment')!;
    const meta = deployment['metadata'] as { namespace: string; name: string };
    const k = key('Deployment', meta.namespace, meta.name);
    kube.remove('apps/v1', 'Deployment', meta.namespace, meta.name);
    expected.delete(k);
    const held = await eventually(
      'the deployment gone',
      async () => {
        const r = await running();
        return !r.has(k) ? r : undefined;
      },
      30_000,
    );
    assert.ok(matches(held));
  });
});
