/**
 * Issue 21, finding 1: effectivePolicies and simulatePolicy ran backtracking regular
 * expressions built from stored and draft patterns; a scope-limited READER's draft froze
 * /healthz for every tenant, and a stored pattern blocked the API until it was killed.
 * The crafted requests go to an API in a process of its own: on the old code they are never
 * answered and the test fails at the runner's per-test timeout, instead of freezing the test.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  NO_DB_REASON,
  admissionEvent as admission,
  onlyError,
  startApi,
  startApiProcess,
  testDatabaseConfigured,
  type ApiHarness,
  type ApiProcess,
  type GqlResult,
} from '@portcullis/testing';
import { data, scopeWithCluster, upload, type TestCluster } from '../inventory/support';

const CRAFTED = '*a*a*a*a*a*a*a*a*a*a*a*a*b';
const NAMESPACE = 'a'.repeat(60);
const OWNER = 'a'.repeat(200);

const crafted = () => ({
  apiVersion: 'v1',
  kind: 'Pod',
  // a replica's generated suffix; never ending in "b", which the crafted exemption globs (…*b) would match
  metadata: { name: `${OWNER}-${randomUUID().slice(0, 4)}z`, namespace: NAMESPACE, uid: randomUUID() },
  spec: {
    containers: [
      { name: 'app', image: `registry.example.com/${'a'.repeat(200)}:1`, securityContext: { privileged: true } },
    ],
  },
});

describe('crafted patterns in the API (issue 21)', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let replica: ApiProcess;
  let owner: string;
  let reader: string;
  let cluster: TestCluster;
  let storedId: string;

  /** GraphQL against the API process; aborted with the test when it times out. */
  async function gql<T>(
    signal: AbortSignal,
    token: string,
    query: string,
    variables: Record<string, unknown> = {},
  ): Promise<GqlResult<T>> {
    const res = await fetch(`${replica.url}/graphql`, {
      method: 'POST',
      signal,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as GqlResult<T>;
  }

  before(async () => {
    h = await startApi();
    const t = await h.onboard('Crafted patterns');
    owner = t.ownerToken;
    cluster = await scopeWithCluster(h, owner, '555555555555', 'crafted');
    const readerId = randomUUID();
    data(
      await h.gql(owner, `mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }`, {
        i: { principalId: readerId, role: 'SECURITY_READER', cloudScopeId: cluster.cloudScopeId },
      }),
    );
    reader = await h.token(t.tenantId, readerId, 'Reader');
    // a stored policy holding the crafted pattern in its scope and in an exemption's names
    storedId = data(
      await h.gql<{ createPolicy: { id: string } }>(
        owner,
        `mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }`,
        {
          i: {
            name: 'crafted',
            type: 'MISCONFIGURATION',
            action: 'AUDIT',
            scope: { namespaces: { include: [CRAFTED] } },
            rules: [{ ruleId: 'privileged-container', enabled: true }],
          },
        },
      ),
    ).createPolicy.id;
    data(
      await h.gql(
        owner,
        `mutation($id: ID!, $i: ExemptionInput!) { addPolicyExemption(id: $id, input: $i) { version } }`,
        { id: storedId, i: { names: [CRAFTED, `${'*a'.repeat(200)}*b`], match: 'GLOB', reason: 'crafted' } },
      ),
    );
    // recorded admissions of a crafted pod: 60-character namespace, 200-character owner name
    const events = Array.from({ length: 5 }, () =>
      admission({
        namespace: NAMESPACE,
        name: `${OWNER}-x`,
        owner: { kind: 'Deployment', name: OWNER },
        snapshot: crafted(),
      }),
    );
    const res = await upload(h, cluster.token, events);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    replica = await startApiProcess(h);
  });
  after(async () => {
    await replica?.stop();
    await h?.close();
  });

  it('effectivePolicies with a stored crafted include and a 60-character namespace answers, without the crafted policy', async (t) => {
    const res = await gql<{ effectivePolicies: Array<{ policy: { id: string; name: string }; reason: string }> }>(
      t.signal,
      reader,
      `query($c: ID!, $n: String!) { effectivePolicies(clusterId: $c, namespace: $n) { policy { id name } reason } }`,
      { c: cluster.id, n: NAMESPACE },
    );
    const listed = data(res).effectivePolicies;
    assert.ok(listed.length > 0, 'the default policies apply everywhere');
    assert.ok(!listed.some((p) => p.policy.id === storedId));
  });

  it('simulatePolicy by a scope-limited reader, with a crafted draft include, exemption and allowedImages, answers; /healthz too', async (t) => {
    const query = `query($d: PolicyDraftInput!) { simulatePolicy(draft: $d, days: 2, readyAfterDays: 1) { snapshotsEvaluated flipCount report { wouldDenyAdmissions } } }`;
    // the stored policy (its exemption is crafted too) with its scope widened, so every snapshot is evaluated
    const widened = data(
      await gql<{ simulatePolicy: { snapshotsEvaluated: number; report: { wouldDenyAdmissions: number } } }>(
        t.signal,
        reader,
        query,
        {
          d: {
            policyId: storedId,
            action: 'BLOCK',
            scope: { namespaces: { include: ['*'] } },
            rules: [
              {
                ruleId: 'trusted-registries',
                enabled: true,
                params: { allowedImages: [CRAFTED, `registry.example.com/${'*a'.repeat(200)}*b`] },
              },
            ],
          },
        },
      ),
    ).simulatePolicy;
    assert.ok(widened.snapshotsEvaluated > 0);
    assert.equal(widened.report.wouldDenyAdmissions, 5, 'privileged and untrusted, and the exemption does not match');
    // a new draft scoped by the crafted include: nothing is in scope
    const scoped = data(
      await gql<{ simulatePolicy: { report: { wouldDenyAdmissions: number } } }>(t.signal, reader, query, {
        d: {
          type: 'MISCONFIGURATION',
          action: 'BLOCK',
          scope: { namespaces: { include: [CRAFTED] } },
          rules: [{ ruleId: 'privileged-container', enabled: true }],
        },
      }),
    ).simulatePolicy;
    assert.equal(scoped.report.wouldDenyAdmissions, 0);
    const health = await fetch(`${replica.url}/healthz`, { signal: t.signal });
    assert.equal(health.status, 200);
  });

  it('pattern lists and lengths are bounded at the GraphQL input, naming the field', async () => {
    const create = (scope: Record<string, unknown>) =>
      h.gql(owner, `mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }`, {
        i: { name: `bounded-${randomUUID()}`, type: 'MISCONFIGURATION', action: 'AUDIT', scope },
      });
    const long = onlyError(await create({ namespaces: { include: ['a'.repeat(254)] } }));
    assert.deepEqual([long.code, long.field], ['BAD_USER_INPUT', 'scope.namespaces.include']);
    assert.match(long.message, /at most 253 characters/);
    const many = onlyError(await create({ namespaces: { exclude: Array.from({ length: 101 }, (_, i) => `ns-${i}`) } }));
    assert.deepEqual([many.code, many.field], ['BAD_USER_INPUT', 'scope.namespaces.exclude']);
    const exemption = onlyError(
      await h.gql(owner, `mutation($id: ID!, $i: ExemptionInput!) { addPolicyExemption(id: $id, input: $i) { id } }`, {
        id: storedId,
        i: { images: ['a'.repeat(513)], match: 'GLOB', reason: 'r' },
      }),
    );
    assert.deepEqual([exemption.code, exemption.field], ['BAD_USER_INPUT', 'images']);
    assert.match(exemption.message, /at most 512 characters/);
    const draft = onlyError(
      await h.gql(
        reader,
        `query($d: PolicyDraftInput!) { simulatePolicy(draft: $d, days: 2, readyAfterDays: 1) { flipCount } }`,
        { d: { type: 'MISCONFIGURATION', scope: { namespaces: { include: Array.from({ length: 101 }, () => '*') } } } },
      ),
    );
    assert.deepEqual([draft.code, draft.field], ['BAD_USER_INPUT', 'draft.scope.namespaces.include']);
    const images = onlyError(
      await h.gql(
        reader,
        `query($d: PolicyDraftInput!) { simulatePolicy(draft: $d, days: 2, readyAfterDays: 1) { flipCount } }`,
        {
          d: {
            type: 'MISCONFIGURATION',
            rules: [{ ruleId: 'trusted-registries', enabled: true, params: { allowedImages: ['a'.repeat(513)] } }],
          },
        },
      ),
    );
    assert.equal(images.code, 'BAD_USER_INPUT');
    assert.match(images.message, /allowedImages\[0\].*at most 512 characters/);
  });
});
