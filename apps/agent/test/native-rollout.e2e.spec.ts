/**
 * Native enforcement with the real API and worker: a cluster registered in native mode, the
 * agent (with the Kubernetes stand-in as its cluster) applies the compiled default policy, and
 * bundleRollout shows each policy's native state, the API's reason when an object is refused,
 * and kube-apiserver's denial counts; back to webhook mode removes the objects.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { INestApplicationContext } from '@nestjs/common';
import {
  NO_DB_REASON,
  agentEnv,
  eventually,
  memoryLogger,
  startApi,
  startKubeApi,
  startWorker,
  tempDir,
  testDatabaseConfigured,
  testTls,
  type ApiHarness,
  type KubeApiStandIn,
} from '@portcullis/testing';
import { Agent } from '../src/agent';
import { loadAgentConfig } from '../src/config';

const AR = 'admissionregistration.k8s.io/v1';
const VAP = 'ValidatingAdmissionPolicy';
const BINDING = 'ValidatingAdmissionPolicyBinding';

interface NativePolicy {
  policyId: string;
  policyName: string;
  state: string;
  reason: string | null;
  objects: number;
  revision: number | null;
  deniedCount: number;
  rules: Array<{ rule: string; deniedCount: number }>;
}
interface Row {
  enforcementMode: string;
  nativeRevision: number | null;
  nativeMetricsError: string | null;
  nativePolicies: NativePolicy[];
}
const ROW = `enforcementMode nativeRevision nativeMetricsError
  nativePolicies { policyId policyName state reason objects revision deniedCount rules { rule deniedCount } }`;

describe(
  'native enforcement with the real API: bundleRollout shows what the agent applied',
  { skip: testDatabaseConfigured ? false : NO_DB_REASON },
  () => {
    let h: ApiHarness;
    let worker: INestApplicationContext;
    let kube: KubeApiStandIn;
    let agent: Agent;
    let running: { stop(): Promise<void> };
    let owner: string;
    let tenantId: string;
    let clusterId: string;
    let policyId: string;

    const ours = (kind: string) =>
      kube
        .list(AR, kind)
        .filter(
          (o) =>
            (o.metadata['labels'] as Record<string, string>)['app.kubernetes.io/managed-by'] === 'portcullis-agent',
        );

    async function gqlOk<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
      const res = await h.gql<T>(owner, query, variables);
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      return res.data!;
    }
    const row = async (): Promise<Row> =>
      (
        await gqlOk<{ bundleRollout: { clusters: Row[] } }>(
          `query ($id: ID) { bundleRollout(clusterId: $id) { clusters { ${ROW} } } }`,
          { id: clusterId },
        )
      ).bundleRollout.clusters[0]!;
    const defaultPolicy = async (r: Row) => r.nativePolicies.find((p) => p.policyId === policyId);

    before(async () => {
      h = await startApi();
      worker = await startWorker(h.config);
      await h.app.listen(0, '127.0.0.1');
      const apiUrl = `http://127.0.0.1:${(h.app.getHttpServer().address() as AddressInfo).port}`;
      const t = await h.onboard('Native e2e');
      owner = t.ownerToken;
      tenantId = t.tenantId;
      const scope = await gqlOk<{ createCloudScope: { id: string } }>(
        'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "777777777777", displayName: "native" }) { id } }',
      );
      const reg = await gqlOk<{ registerCluster: { cluster: { id: string }; agentToken: string } }>(
        `mutation ($input: RegisterClusterInput!) { registerCluster(input: $input) { cluster { id } agentToken } }`,
        {
          input: {
            cloudScopeId: scope.createCloudScope.id,
            name: 'native-e2e',
            distribution: 'AKS',
            enforcementMode: 'NATIVE',
          },
        },
      );
      clusterId = reg.registerCluster.cluster.id;
      policyId = (
        await h.prisma.policy.findFirstOrThrow({
          where: { tenantId, isDefault: true, type: 'MISCONFIGURATION' },
          select: { id: true },
        })
      ).id;
      kube = await startKubeApi();
      const jwks = (await h.http().get('/.well-known/jwks.json').expect(200)).body as { keys: [] };
      const env = {
        ...agentEnv({
          dir: tempDir(),
          apiUrl,
          token: reg.registerCluster.agentToken,
          jwks,
          tls: testTls(),
          clusterId,
          extra: { PORTCULLIS_BUNDLE_WAIT_SECONDS: '10', PORTCULLIS_NATIVE_METRICS_SECONDS: '1' },
        }),
        ...kube.agentEnv,
      };
      agent = new Agent(loadAgentConfig(env), memoryLogger().log);
      running = await agent.start();
    });
    after(async () => {
      await running?.stop();
      await kube?.close();
      await worker?.close();
      await h?.close();
    });

    it('registered native: the default misconfiguration policy (Audit) is applied as [Warn, Audit] and shown in bundleRollout', async () => {
      const r = await eventually(
        'bundleRollout with the native state of the default policy',
        async () => {
          const x = await row();
          const p = await defaultPolicy(x);
          return p && p.state !== 'PENDING' ? { x, p } : undefined;
        },
        60_000,
      );
      assert.equal(r.x.enforcementMode, 'NATIVE');
      assert.ok(['ENFORCED', 'PARTIAL'].includes(r.p.state), JSON.stringify(r.p));
      assert.equal(r.p.objects, ours(VAP).length + ours(BINDING).length);
      assert.ok(ours(VAP).length > 0);
      for (const b of ours(BINDING))
        assert.deepEqual((b['spec'] as { validationActions: string[] }).validationActions, ['Warn', 'Audit']);
    });

    it('the policy switched to BLOCK while the API refuses its bindings: APPLY_FAILED with the API reason in bundleRollout', async () => {
      const undo = kube.refuse((w) => w.kind === BINDING, {
        code: 422,
        reason: 'Invalid',
        message:
          'ValidatingAdmissionPolicyBinding.admissionregistration.k8s.io is invalid: spec.validationActions: Forbidden: refused by the test',
      });
      try {
        const p = await h.prisma.policy.findUniqueOrThrow({ where: { id: policyId }, select: { version: true } });
        await gqlOk(
          `mutation { updatePolicy(id: "${policyId}", input: { version: ${p.version}, action: BLOCK }) { version } }`,
        );
        const failed = await eventually(
          'APPLY_FAILED in bundleRollout',
          async () => {
            const x = await defaultPolicy(await row());
            return x?.state === 'APPLY_FAILED' ? x : undefined;
          },
          60_000,
        );
        assert.match(failed.reason ?? '', /422 .*spec\.validationActions: Forbidden: refused by the test/);
      } finally {
        undo();
      }
    });

    it('native denials counted by kube-apiserver reach bundleRollout per policy and rule', async () => {
      // the refusal is gone: the next pass (resync or retry) applies the BLOCK bindings
      agent.native.trigger('test');
      await eventually(
        'Block bindings applied',
        () =>
          ours(BINDING).length > 0 &&
          ours(BINDING).every((b) => (b['spec'] as { validationActions: string[] }).validationActions[0] === 'Deny'),
        30_000,
      );
      const vap = ours(VAP).find(
        (o) => (o.metadata['labels'] as Record<string, string>)['portcullis.dev/rule'] === 'privileged-container',
      )!;
      kube.setMetrics(
        `apiserver_validating_admission_policy_check_total{enforcement_action="deny",error_type="no_error",policy="${vap.metadata.name}",policy_binding="${vap.metadata.name}"} 3\n`,
      );
      const p = await eventually(
        'deniedCount in bundleRollout',
        async () => {
          const x = await defaultPolicy(await row());
          return x && x.deniedCount === 3 ? x : undefined;
        },
        60_000,
      );
      assert.deepEqual(p.rules, [{ rule: 'privileged-container', deniedCount: 3 }]);
    });

    it('back to webhook mode: the objects are removed from the cluster', async () => {
      await gqlOk(
        `mutation ($id: ID!, $mode: EnforcementMode!) { setClusterEnforcementMode(id: $id, mode: $mode) { id } }`,
        { id: clusterId, mode: 'WEBHOOK' },
      );
      await eventually('our objects removed', () => ours(VAP).length === 0 && ours(BINDING).length === 0, 60_000);
      assert.equal((await row()).enforcementMode, 'WEBHOOK');
    });
  },
);
