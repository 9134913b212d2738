/**
 * Native enforcement, API side (issue #24): a cluster's enforcement mode is set through
 * GraphQL (authorised per scope, audited, one transaction) and carried in its next bundle;
 * agents report per policy what became of its ValidatingAdmissionPolicy objects and
 * kube-apiserver's native check counters, and bundleRollout shows them, with the counters
 * kept monotonic across API server restarts. Real API, worker, PostgreSQL and Redis; the
 * agents are real credentials posting to the real endpoints.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { INestApplicationContext } from '@nestjs/common';
import {
  NO_DB_REASON,
  onlyError,
  startApi,
  startWorker,
  testDatabaseConfigured,
  type ApiHarness,
} from '@portcullis/testing';

interface NativePolicy {
  policyId: string;
  policyName: string;
  state: string;
  reason: string | null;
  objects: number;
  revision: number | null;
  since: string | null;
  unsupported: Array<{ rule: string | null; what: string; reason: string }>;
  deniedCount: number;
  warnedCount: number;
  auditedCount: number;
  rules: Array<{ rule: string; deniedCount: number; warnedCount: number; auditedCount: number }>;
}
interface Row {
  cluster: { id: string; name: string };
  latestRevision: number | null;
  enforcementMode: string;
  nativeRevision: number | null;
  nativeReconciledAt: string | null;
  nativeMetricsError: string | null;
  nativePolicies: NativePolicy[];
}

const ROW = `cluster { id name } latestRevision enforcementMode nativeRevision nativeReconciledAt nativeMetricsError
  nativePolicies { policyId policyName state reason objects revision since unsupported { rule what reason }
    deniedCount warnedCount auditedCount rules { rule deniedCount warnedCount auditedCount } }`;

type Agent = { id: string; token: string };

describe(
  'native enforcement: mode, status and bundleRollout',
  { skip: testDatabaseConfigured ? false : NO_DB_REASON },
  () => {
    let h: ApiHarness;
    let worker: INestApplicationContext;
    let owner: string;
    let tenantId: string;
    let scopeA: string;
    let scopeB: string;
    let a1: Agent;
    let b1: Agent;
    let defaultPolicyId: string;
    let onlyB: string;

    async function gqlOk<T>(token: string, query: string, variables?: Record<string, unknown>): Promise<T> {
      const res = await h.gql<T>(token, query, variables);
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      return res.data!;
    }

    async function register(scope: string, name: string, mode?: string): Promise<Agent> {
      const d = await gqlOk<{
        registerCluster: { cluster: { id: string; enforcementMode: string }; agentToken: string };
      }>(
        owner,
        `mutation ($input: RegisterClusterInput!) { registerCluster(input: $input) { cluster { id enforcementMode } agentToken } }`,
        { input: { cloudScopeId: scope, name, distribution: 'AKS', ...(mode ? { enforcementMode: mode } : {}) } },
      );
      assert.equal(d.registerCluster.cluster.enforcementMode, mode ?? 'WEBHOOK');
      return { id: d.registerCluster.cluster.id, token: d.registerCluster.agentToken };
    }

    /** Long-polls until the cluster holds at least `revision`; returns the bundle document. */
    async function bundleAt(agent: Agent, revision: number): Promise<Record<string, unknown> & { revision: number }> {
      for (let i = 0; i < 20; i++) {
        const res = await h
          .http()
          .get('/agent/v1/bundle?waitSeconds=10')
          .set('Authorization', `Bearer ${agent.token}`)
          .set('If-None-Match', `"rev-${revision - 1}"`);
        if (res.status === 200) {
          const envelope = JSON.parse(res.text) as { payload: string };
          const doc = JSON.parse(Buffer.from(envelope.payload, 'base64url').toString('utf8')) as Record<
            string,
            unknown
          > & { revision: number };
          if (doc.revision >= revision) return doc;
        }
      }
      throw new Error(`revision ${revision} never arrived`);
    }

    async function setMode(token: string, id: string, mode: string) {
      return h.gql<{ setClusterEnforcementMode: { id: string; enforcementMode: string } }>(
        token,
        `mutation ($id: ID!, $mode: EnforcementMode!) { setClusterEnforcementMode(id: $id, mode: $mode) { id enforcementMode } }`,
        { id, mode },
      );
    }

    function report(agent: Agent, body: Record<string, unknown>) {
      return h
        .http()
        .post('/agent/v1/status')
        .set('Authorization', `Bearer ${agent.token}`)
        .send({
          agentVersion: '1.5.0',
          appliedRevision: null,
          spoolDepth: 0,
          droppedEvents: 0,
          reportedAt: new Date().toISOString(),
          ...body,
        });
    }

    async function row(token: string, clusterId: string): Promise<Row> {
      const d = await gqlOk<{ bundleRollout: { clusters: Row[] } }>(
        token,
        `query ($id: ID) { bundleRollout(clusterId: $id) { clusters { ${ROW} } } }`,
        { id: clusterId },
      );
      assert.equal(d.bundleRollout.clusters.length, 1);
      return d.bundleRollout.clusters[0]!;
    }

    async function latestRevision(clusterId: string): Promise<number> {
      const c = await h.prisma.cluster.findUniqueOrThrow({
        where: { id: clusterId },
        select: { bundleRevision: true },
      });
      return c.bundleRevision!;
    }

    async function principal(role: string, scope: string): Promise<string> {
      const oid = randomUUID();
      await gqlOk(
        owner,
        `mutation { assignRole(input: { principalId: "${oid}", role: ${role}, cloudScopeId: "${scope}" }) { id } }`,
      );
      return h.token(tenantId, oid, `${role.toLowerCase()}-${scope.slice(0, 4)}`);
    }

    before(async () => {
      h = await startApi();
      worker = await startWorker(h.config);
      const t = await h.onboard('Native');
      owner = t.ownerToken;
      tenantId = t.tenantId;
      const scope = async (externalId: string) =>
        (
          await gqlOk<{ createCloudScope: { id: string } }>(
            owner,
            `mutation { createCloudScope(input: { provider: GCP_PROJECT, externalId: "${externalId}", displayName: "${externalId}" }) { id } }`,
          )
        ).createCloudScope.id;
      scopeA = await scope('native-project-a');
      scopeB = await scope('native-project-b');
      a1 = await register(scopeA, 'a1');
      b1 = await register(scopeB, 'b1');
      defaultPolicyId = (
        await h.prisma.policy.findFirstOrThrow({
          where: { tenantId, isDefault: true, type: 'MISCONFIGURATION' },
          select: { id: true },
        })
      ).id;
      onlyB = (
        await gqlOk<{ createPolicy: { id: string } }>(
          owner,
          `mutation { createPolicy(input: { name: "only-b", type: MISCONFIGURATION, action: BLOCK, scope: { cloudScopeIds: ["${scopeB}"] } }) { id } }`,
        )
      ).createPolicy.id;
      await bundleAt(a1, 1);
      await bundleAt(b1, 1);
    });
    after(async () => {
      await worker?.close();
      await h?.close();
    });

    it('switching to native is audited and signs a new revision carrying the mode; back to webhook restores the content', async () => {
      const webhookDoc = await bundleAt(a1, await latestRevision(a1.id));
      assert.deepEqual(webhookDoc['agentSettings'], {});
      const webhookHash = (await h.prisma.cluster.findUniqueOrThrow({ where: { id: a1.id } })).bundleContentHash;

      const set = await setMode(owner, a1.id, 'NATIVE');
      assert.equal(set.errors, undefined, JSON.stringify(set.errors));
      assert.equal(set.data!.setClusterEnforcementMode.enforcementMode, 'NATIVE');
      const nativeDoc = await bundleAt(a1, webhookDoc.revision + 1);
      assert.deepEqual(nativeDoc['agentSettings'], { enforcementMode: 'native' });
      assert.deepEqual(nativeDoc['policies'], webhookDoc['policies']);

      const audit = await h.prisma.auditLogEntry.findMany({
        where: { tenantId, action: 'cluster.setEnforcementMode', targetId: a1.id },
      });
      assert.equal(audit.length, 1);
      assert.deepEqual(
        { before: audit[0]!.before, after: audit[0]!.after, type: audit[0]!.targetType },
        { before: { enforcementMode: 'WEBHOOK' }, after: { enforcementMode: 'NATIVE' }, type: 'Cluster' },
      );
      const shown = await gqlOk<{ clusters: { edges: Array<{ node: { id: string; enforcementMode: string } }> } }>(
        owner,
        `{ clusters(filter: { cloudScopeId: "${scopeA}" }) { edges { node { id enforcementMode } } } }`,
      );
      assert.deepEqual(
        shown.clusters.edges.map((e) => e.node),
        [{ id: a1.id, enforcementMode: 'NATIVE' }],
      );

      // the same mode again changes nothing: no audit entry, no new revision
      const again = await setMode(owner, a1.id, 'NATIVE');
      assert.equal(again.errors, undefined);
      assert.equal(
        await h.prisma.auditLogEntry.count({ where: { tenantId, action: 'cluster.setEnforcementMode' } }),
        1,
      );

      assert.equal((await setMode(owner, a1.id, 'WEBHOOK')).errors, undefined);
      const back = await bundleAt(a1, nativeDoc.revision + 1);
      assert.deepEqual(back['agentSettings'], {});
      const backHash = (await h.prisma.cluster.findUniqueOrThrow({ where: { id: a1.id } })).bundleContentHash;
      assert.equal(backHash, webhookHash, 'a webhook bundle hashes as before native mode existed');
      assert.equal((await setMode(owner, a1.id, 'NATIVE')).errors, undefined);
      await bundleAt(a1, back.revision + 1);
    });

    it('registerCluster takes the mode: the first bundle already carries it', async () => {
      const n1 = await register(scopeA, 'n1', 'NATIVE');
      const doc = await bundleAt(n1, 1);
      assert.deepEqual(doc['agentSettings'], { enforcementMode: 'native' });
      const audit = await h.prisma.auditLogEntry.findFirstOrThrow({
        where: { tenantId, action: 'cluster.register', targetId: n1.id },
      });
      assert.equal((audit.after as Record<string, unknown>)['enforcementMode'], 'NATIVE');
    });

    it('a reader cannot change the mode; an admin of another scope gets NOT_FOUND; an admin of the scope can', async () => {
      const reader = await principal('SECURITY_READER', scopeA);
      const refused = onlyError(await setMode(reader, b1.id, 'NATIVE'));
      assert.equal(refused.code, 'FORBIDDEN');
      const adminB = await principal('SECURITY_ADMIN', scopeB);
      const hidden = onlyError(await setMode(adminB, a1.id, 'WEBHOOK'));
      assert.equal(hidden.code, 'NOT_FOUND');
      assert.equal(hidden.message, `cluster ${a1.id} does not exist`);
      const unknown = onlyError(await setMode(adminB, randomUUID(), 'WEBHOOK'));
      assert.equal(unknown.code, 'NOT_FOUND');
      // a reader of A and admin of B: reads the cluster but may not manage it
      const mixed = randomUUID();
      for (const [role, scope] of [
        ['SECURITY_READER', scopeA],
        ['SECURITY_ADMIN', scopeB],
      ])
        await gqlOk(
          owner,
          `mutation { assignRole(input: { principalId: "${mixed}", role: ${role}, cloudScopeId: "${scope}" }) { id } }`,
        );
      const forbidden = onlyError(await setMode(await h.token(tenantId, mixed, 'mixed'), a1.id, 'WEBHOOK'));
      assert.equal(forbidden.code, 'FORBIDDEN');
      const bad = await h.gql(owner, `mutation { setClusterEnforcementMode(id: "${a1.id}", mode: KYVERNO) { id } }`);
      assert.ok(bad.errors?.length, 'an unknown mode is refused');
      const badId = onlyError(await setMode(owner, 'a1', 'NATIVE'));
      assert.deepEqual({ code: badId.code, field: badId.field }, { code: 'BAD_USER_INPUT', field: 'id' });
      const still = await h.prisma.cluster.findUniqueOrThrow({
        where: { id: a1.id },
        select: { enforcementMode: true },
      });
      assert.equal(still.enforcementMode, 'NATIVE');

      const before = await latestRevision(b1.id);
      const byAdmin = await setMode(adminB, b1.id, 'NATIVE');
      assert.equal(byAdmin.errors, undefined, JSON.stringify(byAdmin.errors));
      const doc = await bundleAt(b1, before + 1);
      assert.deepEqual(doc['agentSettings'], { enforcementMode: 'native' });
    });

    it('a native report is shown in bundleRollout: states, reasons, unsupported rules and counts; unreported policies are PENDING', async () => {
      const revision = await latestRevision(b1.id);
      const pending = await row(owner, b1.id);
      assert.equal(pending.enforcementMode, 'NATIVE');
      assert.deepEqual(
        pending.nativePolicies.map((p) => [p.policyName, p.state, p.reason]),
        [
          ['Default K8s misconfiguration rule', 'PENDING', 'the agent has not reported native enforcement yet'],
          ['only-b', 'PENDING', 'the agent has not reported native enforcement yet'],
        ],
      );

      const res = await report(b1, {
        appliedRevision: revision,
        native: {
          reconciledAt: '2026-12-06T17:00:00Z',
          revision,
          policies: [
            {
              policyId: defaultPolicyId,
              state: 'PARTIAL',
              reason: '1 rule could not be compiled',
              objects: 14,
              unsupported: [{ rule: 'trusted-registries', what: 'parameter allowedImages', reason: 'not RE2' }],
            },
          ],
          checks: [
            { policyId: defaultPolicyId, rule: 'privileged-container', enforcementAction: 'deny', count: 4 },
            { policyId: defaultPolicyId, rule: 'host-namespaces', enforcementAction: 'deny', count: 2 },
            { policyId: defaultPolicyId, rule: 'host-namespaces', enforcementAction: 'warn', count: 1 },
            { policyId: onlyB, rule: 'privileged-container', enforcementAction: 'audit', count: 3 },
          ],
          metricsError: null,
        },
      });
      assert.equal(res.status, 204, res.text);
      const r = await row(owner, b1.id);
      assert.deepEqual(
        { revision: r.nativeRevision, at: r.nativeReconciledAt, err: r.nativeMetricsError },
        { revision, at: '2026-12-06T17:00:00.000Z', err: null },
      );
      const [def, b] = r.nativePolicies;
      assert.ok(def!.since && Date.parse(def!.since) <= Date.now(), 'since is when it was reported');
      assert.deepEqual(
        { ...def, since: null },
        {
          since: null,
          policyId: defaultPolicyId,
          policyName: 'Default K8s misconfiguration rule',
          state: 'PARTIAL',
          reason: '1 rule could not be compiled',
          objects: 14,
          revision,
          unsupported: [{ rule: 'trusted-registries', what: 'parameter allowedImages', reason: 'not RE2' }],
          deniedCount: 6,
          warnedCount: 1,
          auditedCount: 0,
          rules: [
            { rule: 'host-namespaces', deniedCount: 2, warnedCount: 1, auditedCount: 0 },
            { rule: 'privileged-container', deniedCount: 4, warnedCount: 0, auditedCount: 0 },
          ],
        },
      );
      assert.equal(b!.policyName, 'only-b');
      assert.equal(b!.state, 'PENDING');
      assert.equal(b!.reason, `the agent's report for revision ${revision} does not include this policy yet`);
      assert.equal(b!.auditedCount, 3);

      // a policy rollout shows that policy only
      const byPolicy = await gqlOk<{ bundleRollout: { clusters: Row[] } }>(
        owner,
        `{ bundleRollout(policyId: "${onlyB}") { clusters { ${ROW} } } }`,
      );
      assert.deepEqual(
        byPolicy.bundleRollout.clusters.map((c) => [c.cluster.name, c.nativePolicies.map((p) => p.policyName)]),
        [['b1', ['only-b']]],
      );
      // a webhook cluster lists nothing native
      const other = await register(scopeB, 'b2');
      await bundleAt(other, 1);
      assert.deepEqual((await row(owner, other.id)).nativePolicies, []);
    });

    it('APPLY_FAILED and NOT_COMPILED carry their reasons; a report for an older revision leaves the newer states', async () => {
      const revision = await latestRevision(b1.id);
      const native = (policies: unknown[], rev = revision) => ({
        reconciledAt: new Date().toISOString(),
        revision: rev,
        policies,
        checks: null,
        metricsError: 'GET /metrics: 403 Forbidden',
      });
      const res = await report(b1, {
        appliedRevision: revision,
        native: native([
          {
            policyId: defaultPolicyId,
            state: 'APPLY_FAILED',
            reason:
              'ValidatingAdmissionPolicy portcullis.default.privileged-container: 422 Invalid: spec.validations[0]',
            objects: 12,
          },
          { policyId: onlyB, state: 'NOT_COMPILED', reason: 'no rule could be expressed', objects: 0 },
        ]),
      });
      assert.equal(res.status, 204, res.text);
      const r = await row(owner, b1.id);
      assert.deepEqual(
        r.nativePolicies.map((p) => [p.state, p.reason, p.objects, p.deniedCount]),
        [
          [
            'APPLY_FAILED',
            'ValidatingAdmissionPolicy portcullis.default.privileged-container: 422 Invalid: spec.validations[0]',
            12,
            6,
          ],
          ['NOT_COMPILED', 'no rule could be expressed', 0, 0],
        ],
      );
      assert.equal(r.nativeMetricsError, 'GET /metrics: 403 Forbidden');

      // a lagging replica's report from the revision before: its states do not replace the newer ones
      const older = await report(b1, {
        appliedRevision: revision - 1,
        native: native([{ policyId: defaultPolicyId, state: 'ENFORCED', objects: 14 }], revision - 1),
      });
      assert.equal(older.status, 204, older.text);
      assert.deepEqual(
        (await row(owner, b1.id)).nativePolicies.map((p) => p.state),
        ['APPLY_FAILED', 'NOT_COMPILED'],
      );
    });

    it('counters are kept monotonic: increases add, a lower value is an API server restart, unreadable metrics change nothing', async () => {
      const revision = await latestRevision(b1.id);
      const send = async (count: number | null) => {
        const res = await report(b1, {
          appliedRevision: revision,
          native: {
            reconciledAt: new Date().toISOString(),
            revision,
            policies: [{ policyId: onlyB, state: 'ENFORCED', objects: 2 }],
            checks:
              count === null ? null : [{ policyId: onlyB, rule: 'capabilities', enforcementAction: 'deny', count }],
          },
        });
        assert.equal(res.status, 204, res.text);
        const p = (await row(owner, b1.id)).nativePolicies.find((x) => x.policyId === onlyB)!;
        return p.rules.find((x) => x.rule === 'capabilities')?.deniedCount;
      };
      assert.equal(await send(5), 5);
      assert.equal(await send(5), 5, 'the same cumulative value adds nothing');
      assert.equal(await send(8), 8);
      assert.equal(await send(2), 10, 'a reset: the new value is all new');
      assert.equal(await send(null), 10);
      const r = await row(owner, b1.id);
      assert.equal(r.nativeMetricsError, 'the agent could not read the API server metrics');
      assert.equal(await send(7), 15);
      const stored = await h.prisma.clusterNativeCheck.findUniqueOrThrow({
        where: {
          clusterId_policyId_ruleId_enforcementAction: {
            clusterId: b1.id,
            policyId: onlyB,
            ruleId: 'capabilities',
            enforcementAction: 'deny',
          },
        },
      });
      assert.deepEqual({ reported: stored.reported, total: stored.total }, { reported: 7n, total: 15n });
    });

    it('a repeated report rewrites nothing (since stays); a new revision with the same state moves only the revision', async () => {
      const send = async (revision: number, state: string) => {
        const res = await report(b1, {
          appliedRevision: revision,
          native: {
            reconciledAt: new Date().toISOString(),
            revision,
            policies: [{ policyId: onlyB, state, objects: 2, reason: state === 'ENFORCED' ? null : 'refused' }],
          },
        });
        assert.equal(res.status, 204, res.text);
        return (await row(owner, b1.id)).nativePolicies.find((p) => p.policyId === onlyB)!;
      };
      const revision = await latestRevision(b1.id);
      const first = await send(revision, 'APPLY_FAILED');
      const again = await send(revision, 'APPLY_FAILED');
      assert.equal(again.since, first.since);
      const fixed = await send(revision, 'ENFORCED');
      assert.notEqual(fixed.since, first.since);

      const { policy } = await gqlOk<{ policy: { version: number } }>(owner, `{ policy(id: "${onlyB}") { version } }`);
      await gqlOk(
        owner,
        `mutation { updatePolicy(id: "${onlyB}", input: { version: ${policy.version}, action: AUDIT }) { version } }`,
      );
      const next = (await bundleAt(b1, revision + 1)).revision;
      const moved = await send(next, 'ENFORCED');
      assert.deepEqual({ revision: moved.revision, since: moved.since }, { revision: next, since: fixed.since });
    });

    it('a bad report is refused with 400 naming the field, and nothing of it is stored', async () => {
      const revision = await latestRevision(b1.id);
      const before = await row(owner, b1.id);
      const valid = {
        reconciledAt: new Date().toISOString(),
        revision,
        policies: [{ policyId: onlyB, state: 'ENFORCED', objects: 2 }],
        checks: [{ policyId: onlyB, rule: 'capabilities', enforcementAction: 'deny', count: 1000 }],
      };
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [
          { ...valid, policies: [...valid.policies, { policyId: defaultPolicyId, state: 'DONE', objects: 1 }] },
          /native\.policies\[1\]\.state/,
        ],
        [{ ...valid, revision: revision + 5 }, new RegExp(`native\\.revision ${revision + 5} was never issued`)],
        [
          { ...valid, reconciledAt: '2026-02-30T10:00:00Z' },
          /native\.reconciledAt: 2026-02-30T10:00:00Z names no instant/,
        ],
        [{ ...valid, checks: [{ ...valid.checks[0], count: -1 }] }, /native\.checks\[0\]\.count/],
        [{ ...valid, checks: [valid.checks[0], valid.checks[0]] }, /native\.checks\[1\]: repeats/],
        [
          { ...valid, policies: [{ ...valid.policies[0], state: 'APPLY_FAILED', reason: 'refused\u0007' }] },
          /native\.policies\[0\]\.reason/,
        ],
        [
          { ...valid, policies: [{ policyId: 'only-b', state: 'ENFORCED', objects: 2 }] },
          /native\.policies\[0\]\.policyId/,
        ],
      ];
      for (const [native, message] of cases) {
        const res = await report(b1, { appliedRevision: revision, native });
        assert.equal(res.status, 400, `${message}: ${res.status} ${res.text}`);
        assert.match(res.text, message);
      }
      assert.deepEqual(await row(owner, b1.id), before);
    });

    it("a report names only the tenant's own policies, and bundleRollout only what the caller reads", async () => {
      const other = await h.onboard('Native other');
      const foreign = (
        await h.prisma.policy.findFirstOrThrow({ where: { tenantId: other.tenantId }, select: { id: true } })
      ).id;
      const revision = await latestRevision(b1.id);
      const res = await report(b1, {
        appliedRevision: revision,
        native: {
          reconciledAt: new Date().toISOString(),
          revision,
          policies: [
            { policyId: foreign, state: 'ENFORCED', objects: 2 },
            { policyId: onlyB, state: 'ENFORCED', objects: 2 },
          ],
          checks: [
            { policyId: foreign, rule: 'privileged-container', enforcementAction: 'deny', count: 9 },
            { policyId: randomUUID(), rule: 'privileged-container', enforcementAction: 'deny', count: 9 },
            { policyId: onlyB, rule: 'not-a-rule', enforcementAction: 'deny', count: 9 },
          ],
        },
      });
      assert.equal(res.status, 204, res.text);
      const stored = await h.prisma.clusterNativePolicy.findMany({
        where: { clusterId: b1.id },
        select: { policyId: true },
      });
      assert.deepEqual(
        stored.map((s) => s.policyId),
        [onlyB],
      );
      assert.equal(await h.prisma.clusterNativeCheck.count({ where: { policyId: foreign } }), 0);
      assert.equal(await h.prisma.clusterNativeCheck.count({ where: { clusterId: b1.id, ruleId: 'not-a-rule' } }), 0);

      // the agent of a1 (scope A) reports state for only-b, a policy of scope B that its bundle does not carry
      const revA = await latestRevision(a1.id);
      const fromA = await report(a1, {
        appliedRevision: revA,
        native: {
          reconciledAt: new Date().toISOString(),
          revision: revA,
          policies: [
            { policyId: onlyB, state: 'ENFORCED', objects: 2 },
            { policyId: defaultPolicyId, state: 'ENFORCED', objects: 14 },
          ],
          checks: [{ policyId: onlyB, rule: 'privileged-container', enforcementAction: 'deny', count: 9 }],
        },
      });
      assert.equal(fromA.status, 204, fromA.text);
      const readerA = await principal('SECURITY_READER', scopeA);
      const seen = await row(readerA, a1.id);
      assert.deepEqual(
        seen.nativePolicies.map((p) => [p.policyName, p.state]),
        [['Default K8s misconfiguration rule', 'ENFORCED']],
      );
      assert.ok(!JSON.stringify(seen).includes(onlyB), 'only-b is not named to a reader of scope A');
      const hiddenPolicy = onlyError(
        await h.gql(readerA, `{ bundleRollout(policyId: "${onlyB}") { clusters { nativePolicies { policyName } } } }`),
      );
      assert.equal(hiddenPolicy.code, 'NOT_FOUND');
      const hiddenCluster = onlyError(
        await h.gql(readerA, `{ bundleRollout(clusterId: "${b1.id}") { clusters { nativePolicies { policyName } } } }`),
      );
      assert.equal(hiddenCluster.code, 'NOT_FOUND');
    });

    it('a status without native clears the states (back to webhook) and keeps the counts', async () => {
      assert.equal((await setMode(owner, b1.id, 'WEBHOOK')).errors, undefined);
      const revision = await latestRevision(b1.id);
      const res = await report(b1, { appliedRevision: revision - 1 });
      assert.equal(res.status, 204, res.text);
      assert.equal(await h.prisma.clusterNativePolicy.count({ where: { clusterId: b1.id } }), 0);
      assert.ok((await h.prisma.clusterNativeCheck.count({ where: { clusterId: b1.id } })) > 0);
      const r = await row(owner, b1.id);
      assert.deepEqual(
        { mode: r.enforcementMode, revision: r.nativeRevision, policies: r.nativePolicies },
        { mode: 'WEBHOOK', revision: null, policies: [] },
      );
    });
  },
);
