/**
 * The background audit against the stand-in Kubernetes API (client-node on the agent side)
 * serving the workloads of ../shared/fixtures/manifests with controller-owned pods, and the
 * control-plane stand-in keeping the reported state as the API does (FULL replaces, DELTA
 * upserts and removes). The agent runs in process so its state can be compared.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey } from '@portcullis/bundle';
import type { RunningWorkload } from '@portcullis/contracts';
import { compilePolicies, evaluatePolicies } from '@portcullis/policy-engine';
import {
  ControlPlane,
  SHARED_MISSING,
  agentEnv,
  eventually,
  manifestWorkloads,
  memoryLogger,
  misconfigurationPolicy,
  newAgentToken,
  putRunning,
  startKubeApi,
  tempDir,
  testTls,
  type KubeApiStandIn,
} from '@portcullis/testing';
import { Agent } from '../src/agent';
import { loadAgentConfig } from '../src/config';

const POLICY_ID = 'misconfig';
const policy = (action: 'AUDIT' | 'BLOCK') => misconfigurationPolicy(action, { id: POLICY_ID });
const key = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;
const PODS = 2;

describe(
  'background audit: list, watch, collapse, evaluate, report (stand-in Kubernetes API)',
  { skip: SHARED_MISSING },
  () => {
    const token = newAgentToken();
    let api: ControlPlane;
    let kube: KubeApiStandIn;
    let agent: Agent;
    let running: { stop(): Promise<void> };
    const workloads = SHARED_MISSING ? [] : manifestWorkloads();
    /** key -> running pods expected, for every workload outside the agent's excluded namespaces. */
    const expected = new Map<string, number>();

    before(async () => {
      kube = await startKubeApi();
      for (const w of workloads) {
        const meta = w['metadata'] as { namespace: string; name: string };
        const pods = putRunning(kube, w, PODS);
        if (meta.namespace !== 'kube-system') expected.set(key(String(w['kind']), meta.namespace, meta.name), pods);
      }
      const tls = testTls();
      api = await new ControlPlane(tls, token, generateSigningKey()).start();
      api.publish([policy('AUDIT')]);
      const env = agentEnv({
        dir: tempDir(),
        apiUrl: api.url,
        token,
        jwks: api.jwks,
        tls,
        extra: {
          ...kube.agentEnv,
          PORTCULLIS_BACKGROUND_BATCH_MS: '100',
          // small pages: the lists are paginated with continue tokens
          PORTCULLIS_BACKGROUND_LIST_PAGE_SIZE: '10',
        },
      });
      agent = new Agent(loadAgentConfig(env), memoryLogger().log);
      running = await agent.start();
    });
    after(async () => {
      await running?.stop();
      await api?.stop();
      await kube?.close();
    });

    const held = (): Map<string, RunningWorkload> => api.running;
    const relistCount = async () =>
      (await agent.metrics.registry.getSingleMetric('portcullis_agent_background_relists_total')!.get()).values.reduce(
        (n, v) => n + v.value,
        0,
      );
    /** Until the last report is a completed FULL sync and nothing more came for half a second. */
    const settled = async () => {
      let seen = -1;
      let since = Date.now();
      await eventually('the reports to settle after a FULL sync', () => {
        const n = api.workloadReports.length;
        if (n !== seen) [seen, since] = [n, Date.now()];
        const last = api.workloadReports[n - 1];
        return last?.mode === 'FULL' && last.sync?.last === true && Date.now() - since > 500;
      });
    };
    const sameAsExpected = () =>
      held().size === expected.size && [...expected].every(([k, pods]) => held().get(k)?.pods === pods);

    it('reports every running workload once, collapsed into its top-most controller, with its violations as the engine finds them', async () => {
      assert.ok(workloads.length >= 50, `found only ${workloads.length} workloads`);
      await eventually('the FULL sync of every workload', sameAsExpected, 60_000);
      assert.equal(api.workloadReports[0]!.mode, 'FULL');
      assert.equal(api.workloadReports[0]!.bundleRevision, 1);
      // no controller-owned ReplicaSet, Job or Pod is a workload of its own; kube-system is excluded
      for (const k of held().keys()) assert.ok(expected.has(k), `unexpected workload ${k}`);
      assert.ok(
        [...held().keys()].some((k) => k.startsWith('Job/')),
        'a Job without a CronJob is its own workload',
      );
      assert.ok(
        ![...held().keys()].some(
          (k) => k.startsWith('ReplicaSet/') || (k.startsWith('Pod/') && !k.includes('kind-ingress')),
        ),
      );
      const compiled = compilePolicies([
        {
          ...policy('AUDIT'),
          rules: policy('AUDIT').rules.map((r) => ({ id: r.id, params: { ...r.params } })),
          exemptions: [],
        },
      ]);
      let violating = 0;
      for (const w of workloads) {
        const meta = w['metadata'] as { namespace: string; name: string };
        const reported = held().get(key(String(w['kind']), meta.namespace, meta.name));
        if (!reported) continue;
        const engine = evaluatePolicies(w, compiled, { defaultNamespace: meta.namespace, now: new Date() });
        assert.deepEqual(
          reported.violations.map((v) => `${v.rule}/${v.container ?? ''}`).sort(),
          engine.violations.map((v) => `${v.rule}/${v.container ?? ''}`).sort(),
          `${String(w['kind'])} ${meta.namespace}/${meta.name}`,
        );
        assert.ok(reported.violations.every((v) => v.action === 'AUDIT' && v.policyId === POLICY_ID));
        assert.match(reported.snapshotHash, /^[0-9a-f]{64}$/);
        if (reported.violations.length > 0) violating++;
      }
      assert.ok(violating > 10, `only ${violating} workloads violate the default policy`);
      // the lists were paginated (limit 10, continue tokens) and every kind is watched from its list's version
      assert.ok(kube.requests.some((r) => r.path === '/api/v1/pods' && r.query['continue']));
      assert.ok(kube.requests.some((r) => r.path === '/apis/apps/v1/deployments' && r.query['watch'] === 'true'));
    });

    it('a new bundle revision (the policy in Block mode): every workload re-evaluated and its changed verdict reported', async () => {
      const before = api.workloadReports.length;
      api.publish([policy('BLOCK')]);
      await eventually(
        'violations reported as BLOCK under revision 2',
        () =>
          api.workloadReports.slice(before).some((r) => r.bundleRevision === 2) &&
          [...held().values()].every((w) => w.violations.every((v) => v.action === 'BLOCK')),
        30_000,
      );
      const delta = api.workloadReports.slice(before);
      assert.ok(delta.every((r) => r.mode === 'DELTA'));
      // only what changed was sent: workloads without violations read the same under revision 2
      const sent = delta.reduce((n, r) => n + r.workloads.length, 0);
      const violating = [...held().values()].filter((w) => w.violations.length > 0).length;
      assert.equal(sent, violating);
      assert.ok(sameAsExpected());
    });

    it('pods come and go: the owning workload is reported with its new count, and only it', async () => {
      const deployment = workloads.find((w) => w['kind'] === 'Deployment')!;
      const meta = deployment['metadata'] as { namespace: string; name: string };
      const k = key('Deployment', meta.namespace, meta.name);
      const pod = kube.list('v1', 'Pod', meta.namespace).find((p) => {
        const owner = (p.metadata['ownerReferences'] as Array<{ name: string }> | undefined)?.[0]?.name ?? '';
        return owner.startsWith(`${meta.name}-`) && owner.length === meta.name.length + 11;
      })!;
      const before = api.workloadReports.length;
      kube.remove('v1', 'Pod', meta.namespace, pod.metadata.name);
      expected.set(k, PODS - 1);
      await eventually('the new pod count', () => held().get(k)?.pods === PODS - 1);
      const reports = api.workloadReports.slice(before);
      assert.deepEqual(
        reports.flatMap((r) => r.workloads.map((w) => `${w.kind}/${w.namespace}/${w.name}`)),
        [k],
      );
      assert.ok(sameAsExpected());
    });

    it('a watch expiry (410): relisted, a FULL sync, nothing lost or doubled, changes made meanwhile included', async () => {
      const before = api.workloadReports.length;
      const relists = await relistCount();
      kube.expireWatches();
      // changed while the agent relists
      const added = {
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
      expected.set(key('Deployment', 'shop', 'late-arrival'), putRunning(kube, added, 3));
      await eventually(
        'a FULL sync after the relist with the new workload',
        () => api.workloadReports.slice(before).some((r) => r.mode === 'FULL' && r.sync?.last) && sameAsExpected(),
        30_000,
      );
      await eventually('every kind listed again', async () => (await relistCount()) >= relists + 9);
      await settled();
      assert.ok(agent.background!.state.count('Pod') > 0);
      const full = api.workloadReports.slice(before).filter((r) => r.mode === 'FULL');
      const syncs = new Map<string, string[]>();
      for (const r of full)
        syncs.set(r.sync!.id, [
          ...(syncs.get(r.sync!.id) ?? []),
          ...r.workloads.map((w) => `${w.kind}/${w.namespace}/${w.name}`),
        ]);
      const last = [...syncs.values()].at(-1)!;
      // each workload once in a sync (no doubles), and all of them in the last one (nothing lost)
      for (const names of syncs.values()) assert.equal(new Set(names).size, names.length);
      assert.deepEqual(new Set(last), new Set(expected.keys()));
      const late = held().get(key('Deployment', 'shop', 'late-arrival'))!;
      assert.equal(late.pods, 3);
      assert.ok(late.violations.some((v) => v.rule === 'privileged-container' && v.action === 'BLOCK'));
    });

    it('the API lost the sync (409 restartSync): the FULL sync is sent again from page 1 under a new sync id', async () => {
      const before = api.workloadReports.length;
      const relists = await relistCount();
      api.restartSyncs = 1;
      kube.expireWatches();
      await eventually('every kind listed again', async () => (await relistCount()) >= relists + 9);
      await settled();
      assert.equal(api.restartedSyncs.length, 1);
      const applied = api.workloadReports.slice(before).filter((r) => r.mode === 'FULL');
      assert.ok(applied.every((r) => r.sync!.id !== api.restartedSyncs[0]));
      assert.equal(applied[0]!.sync!.page, 1);
      await eventually('the same state', sameAsExpected);
    });

    it('a workload deleted: gone from the reported state (DELTA removal)', async () => {
      const statefulSet = workloads.find((w) => w['kind'] === 'StatefulSet')!;
      const meta = statefulSet['metadata'] as { namespace: string; name: string };
      const k = key('StatefulSet', meta.namespace, meta.name);
      assert.ok(held().has(k));
      const before = api.workloadReports.length;
      kube.remove('apps/v1', 'StatefulSet', meta.namespace, meta.name);
      expected.delete(k);
      await eventually('the removal', () => !held().has(k));
      const removal = api.workloadReports.slice(before).find((r) => r.removed.length > 0)!;
      assert.equal(removal.mode, 'DELTA');
      assert.deepEqual(removal.removed, [{ kind: 'StatefulSet', namespace: meta.namespace, name: meta.name }]);
      assert.ok(sameAsExpected());
    });

    it("the bundle's excluded namespaces apply as for admissions: their workloads leave the reported state", async () => {
      const excluded = [...expected.keys()].filter((k) => k.split('/')[1] === 'shop');
      assert.ok(excluded.length > 0);
      api.publish([policy('BLOCK')], { agentSettings: { excludedNamespaces: ['shop'] } });
      for (const k of excluded) expected.delete(k);
      await eventually(
        'the shop namespace gone',
        () => sameAsExpected() && ![...held().keys()].some((k) => k.includes('/shop/')),
      );
    });

    it('the API away for a while: the change is reported once it answers again, under one report id', async () => {
      const deployment = workloads.find((w) => {
        const k = key(
          String(w['kind']),
          (w['metadata'] as { namespace: string }).namespace,
          (w['metadata'] as { name: string }).name,
        );
        return w['kind'] === 'Deployment' && expected.has(k);
      })!;
      const meta = deployment['metadata'] as { namespace: string; name: string };
      const k = key('Deployment', meta.namespace, meta.name);
      const port = api.port;
      await api.stop();
      kube.remove('apps/v1', 'Deployment', meta.namespace, meta.name);
      expected.delete(k);
      await new Promise((r) => setTimeout(r, 500));
      const before = api.workloadReports.length;
      await api.start(port);
      await eventually('the removal after the outage', () => !held().has(k) && sameAsExpected(), 30_000);
      const removals = api.workloadReports.slice(before).filter((r) => r.removed.some((x) => x.name === meta.name));
      assert.equal(removals.length, 1);
    });
  },
);

describe('background audit switched off', { skip: SHARED_MISSING }, () => {
  it('PORTCULLIS_BACKGROUND_AUDIT=false: the agent never lists or watches workloads', async () => {
    const kube = await startKubeApi();
    const token = newAgentToken();
    const tls = testTls();
    const api = await new ControlPlane(tls, token, generateSigningKey()).start();
    api.publish([policy('AUDIT')]);
    const env = agentEnv({
      dir: tempDir(),
      apiUrl: api.url,
      token,
      jwks: api.jwks,
      tls,
      extra: { ...kube.agentEnv, PORTCULLIS_BACKGROUND_AUDIT: 'false' },
    });
    const agent = new Agent(loadAgentConfig(env), memoryLogger().log);
    const running = await agent.start();
    try {
      await eventually('revision 1', () => agent.store.revision === 1);
      await eventually('a status report', () => api.statuses.length > 0);
      assert.equal(agent.background, null);
      // native enforcement (webhook mode here) may look for its own leftover ValidatingAdmissionPolicies; nothing else is read
      assert.deepEqual(
        kube.requests.filter((r) => !r.path.startsWith('/apis/admissionregistration.k8s.io/')),
        [],
      );
      assert.equal(api.workloadReports.length, 0);
    } finally {
      await running.stop();
      await api.stop();
      await kube.close();
    }
  });
});
