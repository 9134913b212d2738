/**
 * The authorization matrix for reading: every list query and filter argument of schema.gql
 * has an entry (run by authorization-matrix-lists-<n>.spec.ts, see list-visibility.ts), and
 * the answers that must not name what the caller cannot read.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NO_DB_REASON, startApi, testDatabaseConfigured, type GqlResult } from '@portcullis/testing';
import {
  LIST_ENTRIES,
  LIST_PARTS,
  entryArguments,
  schemaListArguments,
  seedVisibility,
  type VisibilityFixture,
} from './list-visibility';

async function ok<T>(r: Promise<GqlResult<T>>): Promise<T> {
  const res = await r;
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  return res.data as T;
}

describe(
  'authorization matrix: lists and answers name nothing the caller cannot read',
  { skip: testDatabaseConfigured ? false : NO_DB_REASON },
  () => {
    let v: VisibilityFixture;
    before(async () => {
      v = await seedVisibility(await startApi());
    });
    after(async () => {
      await v?.h.close();
    });

    it('has an entry for every list query and filter argument of schema.gql, and none the schema lacks', () => {
      assert.deepEqual(entryArguments(), schemaListArguments());
    });

    it('runs every entry in exactly one of the parts', () => {
      assert.deepEqual(LIST_PARTS.flat().sort(), Object.keys(LIST_ENTRIES).sort());
    });

    // a policy spanning S1 and S2, read by an admin of S1: S2 is counted, never named
    it('a policy spanning two scopes shows an admin of one only its own scope, and counts the other', async () => {
      const res = await ok<{
        policy: {
          scope: {
            cloudScopes: Array<{ id: string; externalId: string; displayName: string }>;
            hiddenCloudScopes: number;
          };
        };
      }>(
        v.h.gql(
          v.tokens.adminS1,
          'query($id: ID!) { policy(id: $id) { scope { cloudScopes { id externalId displayName } hiddenCloudScopes } } }',
          { id: v.spanning },
        ),
      );
      assert.deepEqual(
        res.policy.scope.cloudScopes.map((s) => s.id),
        [v.seeds.S1.scope],
      );
      assert.equal(res.policy.scope.hiddenCloudScopes, 1);
      assert.ok(
        !JSON.stringify(res).includes(v.seeds.S2.scopeExternalId),
        "the other scope's external id is not shown",
      );
      const whole = await ok<{ policy: { scope: { cloudScopes: Array<{ id: string }>; hiddenCloudScopes: number } } }>(
        v.h.gql(
          v.tokens.readerT,
          'query($id: ID!) { policy(id: $id) { scope { cloudScopes { id } hiddenCloudScopes } } }',
          { id: v.spanning },
        ),
      );
      assert.deepEqual(
        new Set(whole.policy.scope.cloudScopes.map((s) => s.id)),
        new Set([v.seeds.S1.scope, v.seeds.S2.scope]),
      );
      assert.equal(whole.policy.scope.hiddenCloudScopes, 0);
    });

    it('an export by an admin of one scope leaves out a policy spanning another, and refuses it by id', async () => {
      const all = await ok<{ exportPolicies: string }>(v.h.gql(v.tokens.adminS1, '{ exportPolicies }'));
      assert.ok(!all.exportPolicies.includes(v.seeds.S2.scopeExternalId), 'no other scope in the file');
      const byId = await v.h.gql(v.tokens.adminS1, 'query($ids: [ID!]) { exportPolicies(ids: $ids) }', {
        ids: [v.seeds.S1.policy, v.spanning],
      });
      assert.equal(byId.errors?.[0]?.extensions?.field, 'ids[1]', JSON.stringify(byId));
      assert.ok(!JSON.stringify(byId).includes(v.seeds.S2.scopeExternalId));
    });

    it("a policy's scope naming a cluster of a scope the caller cannot read is refused like an unknown cluster, without its name", async () => {
      const attempt = (clusterId: string) =>
        v.h.gql(v.tokens.adminS1, 'mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }', {
          i: {
            name: `vis-leak-${randomUUID().slice(0, 8)}`,
            type: 'MISCONFIGURATION',
            action: 'AUDIT',
            scope: { cloudScopeIds: [v.seeds.S1.scope], clusterIds: [clusterId] },
          },
        });
      const hiddenRes = await attempt(v.seeds.S2.cluster);
      const unknownId = randomUUID();
      const unknownRes = await attempt(unknownId);
      assert.ok(
        !JSON.stringify(hiddenRes).includes(v.seeds.S2.clusterName),
        `names the hidden cluster: ${JSON.stringify(hiddenRes)}`,
      );
      assert.deepEqual(sameShape(hiddenRes, v.seeds.S2.cluster), sameShape(unknownRes, unknownId));
    });

    it('a policy on a scope the caller cannot read is refused like one on an unknown scope', async () => {
      const attempt = (scope: string) =>
        v.h.gql(v.tokens.adminS1, 'mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }', {
          i: {
            name: `vis-leak-${randomUUID().slice(0, 8)}`,
            type: 'MISCONFIGURATION',
            action: 'AUDIT',
            scope: { cloudScopeIds: [v.seeds.S1.scope, scope] },
          },
        });
      const unknownId = randomUUID();
      assert.deepEqual(
        sameShape(await attempt(v.seeds.S2.scope), v.seeds.S2.scope),
        sameShape(await attempt(unknownId), unknownId),
      );
    });

    it('a policy file naming a scope or cluster the caller cannot read is refused like one the tenant lacks', async () => {
      const file = (scopeRef: string, cluster?: string) =>
        `apiVersion: portcullis.dev/v1\nkind: Policy\nmetadata: { name: vis-import-${randomUUID().slice(0, 8)} }\nspec:\n  type: MISCONFIGURATION\n  action: AUDIT\n` +
        `  scope: { cloudScopes: ["${scopeRef}"]${cluster ? `, clusters: ["${cluster}"]` : ''} }\n  rules:\n    - id: privileged-container\n`;
      const run = (doc: string) =>
        v.h.gql(v.tokens.adminS1, 'mutation($d: String!) { importPolicies(document: $d, dryRun: true) { dryRun } }', {
          d: doc,
        });
      const azure = `azure:${v.seeds.S2.scopeExternalId}`;
      const unknownAzure = `azure:${randomUUID()}`;
      assert.deepEqual(
        sameShape(await run(file(azure)), azure),
        sameShape(await run(file(unknownAzure)), unknownAzure),
      );
      const aws = `aws:${v.seeds.S1.scopeExternalId}`;
      const unknownName = `vis-none-${randomUUID().slice(0, 8)}`;
      assert.deepEqual(
        sameShape(await run(file(aws, v.seeds.S2.clusterName)), v.seeds.S2.clusterName),
        sameShape(await run(file(aws, unknownName)), unknownName),
      );
    });

    it('summaries, reports and simulations count only the scopes the caller reads', async () => {
      type Summary = { admissionSummary: { groups: Array<{ cloudScopeId: string; clusterId: string }> } };
      const summary = async (who: keyof typeof v.tokens) =>
        (
          await ok<Summary>(
            v.h.gql(
              v.tokens[who],
              '{ admissionSummary(groupBy: [CLOUD_SCOPE, CLUSTER]) { groups { cloudScopeId clusterId } } }',
            ),
          )
        ).admissionSummary.groups;
      assert.deepEqual(new Set((await summary('adminS1')).map((g) => g.clusterId)), new Set([v.seeds.S1.cluster]));
      assert.deepEqual(
        new Set((await summary('readerT')).map((g) => g.cloudScopeId)),
        new Set([v.seeds.S1.scope, v.seeds.S2.scope]),
      );
      assert.deepEqual(new Set((await summary('otherTenant')).map((g) => g.cloudScopeId)), new Set([v.seeds.B.scope]));

      // the spanning policy's outcome is recorded in both scopes' clusters: an admin of S1 sees its own
      const report = async (who: keyof typeof v.tokens) =>
        (
          await ok<{ auditToDenyReport: { byCluster: Array<{ key: string }> } }>(
            v.h.gql(v.tokens[who], 'query($p: ID!) { auditToDenyReport(policyId: $p) { byCluster { key } } }', {
              p: v.spanning,
            }),
          )
        ).auditToDenyReport.byCluster.map((c) => c.key);
      assert.deepEqual(await report('adminS1'), [v.seeds.S1.cluster]);
      assert.deepEqual(new Set(await report('readerT')), new Set([v.seeds.S1.cluster, v.seeds.S2.cluster]));
      // the same policy with its rule enabled, simulated on the recorded (privileged) pods of both scopes
      const simulated = async (who: keyof typeof v.tokens) => {
        const res = await ok<{
          simulatePolicy: { report: { byCluster: Array<{ key: string }> }; flips: Array<{ clusterId: string }> };
        }>(
          v.h.gql(
            v.tokens[who],
            'query($d: PolicyDraftInput!) { simulatePolicy(draft: $d) { flips { clusterId } report { byCluster { key } } } }',
            {
              d: { policyId: v.spanning, rules: [{ ruleId: 'privileged-container', enabled: true }] },
            },
          ),
        );
        return [
          ...res.simulatePolicy.report.byCluster.map((c) => c.key),
          ...res.simulatePolicy.flips.map((f) => f.clusterId),
        ];
      };
      assert.deepEqual(new Set(await simulated('adminS1')), new Set([v.seeds.S1.cluster]));
      assert.deepEqual(new Set(await simulated('readerT')), new Set([v.seeds.S1.cluster, v.seeds.S2.cluster]));
    });

    it('lookups of an object in a scope the caller cannot read answer NOT_FOUND like an unknown id', async () => {
      const lookups: Array<[string, string, (s: typeof v.seeds.S2) => string]> = [
        ['query($id: ID!) { policy(id: $id) { id } }', 'policy', (s) => s.policy],
        ['query($id: ID!) { auditToDenyReport(policyId: $id) { policyId } }', 'auditToDenyReport', (s) => s.policy],
        ['mutation($id: ID!) { deleteCluster(id: $id) { id } }', 'deleteCluster', (s) => s.cluster],
        ['mutation($id: ID!) { rotateClusterToken(id: $id) { agentToken } }', 'rotateClusterToken', (s) => s.cluster],
        ['mutation($id: ID!) { revokeRole(id: $id) { id } }', 'revokeRole', (s) => s.grant],
        [
          'mutation($id: ID!) { updateCloudScope(id: $id, input: { displayName: "x" }) { id } }',
          'updateCloudScope',
          (s) => s.scope,
        ],
        [
          'mutation($id: ID!) { updatePolicy(id: $id, input: { version: 1, action: AUDIT }) { id } }',
          'updatePolicy',
          (s) => s.policy,
        ],
      ];
      for (const [query, name, pick] of lookups) {
        const hiddenId = pick(v.seeds.S2);
        const unknownId = randomUUID();
        const hiddenRes = await v.h.gql(v.tokens.ownerS1, query, { id: hiddenId });
        const unknownRes = await v.h.gql(v.tokens.ownerS1, query, { id: unknownId });
        assert.equal(hiddenRes.errors?.[0]?.extensions?.code, 'NOT_FOUND', `${name}: ${JSON.stringify(hiddenRes)}`);
        assert.deepEqual(sameShape(hiddenRes, hiddenId), sameShape(unknownRes, unknownId), name);
      }
    });
  },
);

/** An error answer with the id the caller sent replaced, to compare a hidden object's answer with an unknown one's. */
function sameShape(res: GqlResult, id: string) {
  return (res.errors ?? []).map((e) => ({
    code: e.extensions?.code,
    field: e.extensions?.field,
    message: e.message.split(id).join('<id>'),
  }));
}
