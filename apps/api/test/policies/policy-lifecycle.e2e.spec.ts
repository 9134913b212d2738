import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  NO_DB_REASON,
  onlyError,
  startApi,
  testDatabaseConfigured,
  type ApiHarness,
  type GqlResult,
} from '@portcullis/testing';

const POLICY_FIELDS = `id name description type action isDefault version
  scope { cloudScopes { id externalId } clusters { id } namespaces { include exclude } }
  rules { ruleId enabled params }
  exemptions { id namespaces names kinds images cves rules match reason grantedBy expiresAt active }`;

interface PolicyView {
  id: string;
  name: string;
  type: string;
  action: string;
  isDefault: boolean;
  version: number;
  scope: {
    cloudScopes: Array<{ id: string }>;
    clusters: Array<{ id: string }>;
    namespaces: { include: string[]; exclude: string[] };
  };
  rules: Array<{ ruleId: string; enabled: boolean; params: Record<string, unknown> }>;
  exemptions: Array<{ id: string; reason: string; active: boolean; expiresAt: string | null; grantedBy: string }>;
}

function data<T>(res: GqlResult<T>): T {
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  return res.data as T;
}

describe('policy management', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let t: { tenantId: string; ownerId: string; ownerToken: string };
  let offsetMs = 0;
  let aws: string;

  before(async () => {
    h = await startApi({}, { clock: { now: () => new Date(Date.now() + offsetMs) } });
    t = await h.onboard('Policies');
    aws = data(
      await h.gql<{ createCloudScope: { id: string } }>(
        t.ownerToken,
        'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "123456789012", displayName: "prod account" }) { id } }',
      ),
    ).createCloudScope.id;
  });
  after(async () => h?.close());

  const create = (input: Record<string, unknown>) =>
    h.gql<{ createPolicy: PolicyView }>(
      t.ownerToken,
      `mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { ${POLICY_FIELDS} } }`,
      { i: input },
    );
  const update = (id: string, input: Record<string, unknown>) =>
    h.gql<{ updatePolicy: PolicyView }>(
      t.ownerToken,
      `mutation($id: ID!, $i: UpdatePolicyInput!) { updatePolicy(id: $id, input: $i) { ${POLICY_FIELDS} } }`,
      { id, i: input },
    );
  const get = async (id: string) =>
    data(
      await h.gql<{ policy: PolicyView }>(t.ownerToken, `query($id: ID!) { policy(id: $id) { ${POLICY_FIELDS} } }`, {
        id,
      }),
    ).policy;

  it('lists the two default policies of onboarding, in Audit mode, with the catalog defaults', async () => {
    const res = data(
      await h.gql<{ policies: { edges: Array<{ node: PolicyView }> } }>(
        t.ownerToken,
        `{ policies(filter: { name: "Default" }) { edges { node { ${POLICY_FIELDS} } } } }`,
      ),
    );
    const defaults = res.policies.edges.map((e) => e.node);
    assert.deepEqual(defaults.map((p) => [p.name, p.type, p.action, p.isDefault]).sort(), [
      ['Default K8s misconfiguration rule', 'MISCONFIGURATION', 'AUDIT', true],
      ['Default vulnerability gating rule', 'VULNERABILITY', 'AUDIT', true],
    ]);
    const catalog = data(
      await h.gql<{ ruleCatalog: { rules: Array<{ id: string; policyType: string; defaultEnabled: boolean }> } }>(
        t.ownerToken,
        '{ ruleCatalog { rules { id policyType defaultEnabled } } }',
      ),
    ).ruleCatalog.rules;
    for (const p of defaults) {
      const expected = catalog
        .filter((r) => r.policyType === p.type)
        .map((r) => [r.id, r.defaultEnabled])
        .sort();
      assert.deepEqual(p.rules.map((r) => [r.ruleId, r.enabled]).sort(), expected);
    }
  });

  it('runs a full lifecycle: create, read, update with the version, delete', async () => {
    const created = data(
      await create({
        name: 'restricted prod',
        description: 'prod namespaces of the payments account',
        type: 'MISCONFIGURATION',
        action: 'AUDIT',
        scope: { cloudScopeIds: [aws], namespaces: { include: ['prod-*'], exclude: ['prod-sandbox'] } },
        presets: ['pss-restricted'],
        rules: [{ ruleId: 'resource-limits', enabled: true, params: { maxMemoryLimit: '2Gi' } }],
      }),
    ).createPolicy;
    assert.equal(created.version, 1);
    assert.deepEqual(created.scope.namespaces, { include: ['prod-*'], exclude: ['prod-sandbox'] });
    assert.equal(created.scope.cloudScopes[0]!.id, aws);
    const limits = created.rules.find((r) => r.ruleId === 'resource-limits')!;
    assert.equal(limits.enabled, true);
    assert.equal(limits.params['maxMemoryLimit'], '2Gi');
    assert.equal(limits.params['requireCpuLimit'], true, 'omitted parameters take their defaults');
    assert.ok(
      created.rules.find((r) => r.ruleId === 'trusted-registries')!.enabled === false,
      'rules not named are disabled',
    );

    const updated = data(
      await update(created.id, {
        version: 1,
        action: 'BLOCK',
        rules: [{ ruleId: 'trusted-registries', enabled: true, params: { allowedImages: ['mcr.microsoft.com/'] } }],
      }),
    ).updatePolicy;
    assert.equal(updated.version, 2);
    assert.equal(updated.action, 'BLOCK');
    assert.equal(updated.rules.find((r) => r.ruleId === 'trusted-registries')!.enabled, true);
    assert.equal(
      updated.rules.find((r) => r.ruleId === 'resource-limits')!.params['maxMemoryLimit'],
      '2Gi',
      'rules not named in an update keep their state',
    );
    assert.deepEqual(await get(created.id), updated);

    const log = data(
      await h.gql<{
        auditLog: {
          edges: Array<{
            node: { action: string; before: { action: string } | null; after: { action: string } | null };
          }>;
        };
      }>(
        t.ownerToken,
        `{ auditLog(filter: { targetId: "${created.id}" }) { edges { node { action before after } } } }`,
      ),
    ).auditLog.edges.map((e) => e.node);
    assert.deepEqual(
      log.map((l) => l.action),
      ['policy.update', 'policy.create'],
    );
    assert.equal(log[0]!.before!.action, 'AUDIT');
    assert.equal(log[0]!.after!.action, 'BLOCK');

    data(
      await h.gql(t.ownerToken, 'mutation($id: ID!) { deletePolicy(id: $id, version: 2) { id } }', { id: created.id }),
    );
    assert.equal(
      onlyError(await h.gql(t.ownerToken, `query($id: ID!) { policy(id: $id) { id } }`, { id: created.id })).code,
      'NOT_FOUND',
    );
  });

  it('a stale version gets CONFLICT and changes nothing: two admins never overwrite each other', async () => {
    const p = data(await create({ name: 'concurrency', type: 'MISCONFIGURATION', action: 'AUDIT' })).createPolicy;
    data(await update(p.id, { version: 1, description: 'first admin' }));
    const e = onlyError(await update(p.id, { version: 1, description: 'second admin' }));
    assert.equal(e.code, 'CONFLICT');
    assert.equal(e.field, 'version');
    assert.match(e.message, /is at version 2/);
    const now = await get(p.id);
    assert.equal(
      (await h.gql<{ policy: { description: string } }>(t.ownerToken, `{ policy(id: "${p.id}") { description } }`))
        .data!.policy.description,
      'first admin',
    );
    assert.equal(now.version, 2);
  });

  it('default policies: action and rules change; name, description and scope are refused; delete is refused', async () => {
    const res = data(
      await h.gql<{ policies: { edges: Array<{ node: PolicyView }> } }>(
        t.ownerToken,
        `{ policies(filter: { type: MISCONFIGURATION, name: "Default" }) { edges { node { ${POLICY_FIELDS} } } } }`,
      ),
    );
    const d = res.policies.edges[0]!.node;
    const changed = data(
      await update(d.id, {
        version: d.version,
        action: 'BLOCK',
        rules: [{ ruleId: 'read-only-root-filesystem', enabled: false }],
      }),
    ).updatePolicy;
    assert.equal(changed.action, 'BLOCK');
    for (const [field, input] of [
      ['name', { name: 'mine now' }],
      ['description', { description: 'x' }],
      ['scope', { scope: { cloudScopeIds: [aws] } }],
    ] as const) {
      const e = onlyError(await update(d.id, { version: changed.version, ...input }));
      assert.equal(e.code, 'BAD_USER_INPUT');
      assert.equal(e.field, field);
      assert.match(e.message, /default policy; only its action and rules can change/);
    }
    const del = onlyError(
      await h.gql(t.ownerToken, 'mutation($id: ID!) { deletePolicy(id: $id) { id } }', { id: d.id }),
    );
    assert.equal(del.code, 'BAD_USER_INPUT');
    assert.match(del.message, /cannot be deleted/);
    assert.equal((await get(d.id)).version, changed.version);
  });

  it('invalid parameters are BAD_USER_INPUT naming the rule and the parameter; nothing is written', async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [
        { ruleId: 'resource-limits', enabled: true, params: { maxMemoryLimit: '4Gb' } },
        'rules[0].params.maxMemoryLimit',
        /resource-limits.*maxMemoryLimit/,
      ],
      [
        { ruleId: 'resource-limits', enabled: true, params: { noSuchParameter: 1 } },
        'rules[0].params.noSuchParameter',
        /resource-limits.*noSuchParameter/,
      ],
      [{ ruleId: 'no-such-rule', enabled: true }, 'rules[0].ruleId', /unknown rule "no-such-rule"/],
      [{ ruleId: 'vulnerability-severity', enabled: true }, 'rules[0].ruleId', /belongs to VULNERABILITY policies/],
    ];
    for (const [i, [rule, field, message]] of cases.entries()) {
      const e = onlyError(await create({ name: `bad ${i}`, type: 'MISCONFIGURATION', action: 'BLOCK', rules: [rule] }));
      assert.equal(e.code, 'BAD_USER_INPUT', JSON.stringify(e));
      assert.equal(e.field, field);
      assert.match(e.message, message);
    }
    const e = onlyError(
      await create({
        name: 'bad scope',
        type: 'MISCONFIGURATION',
        action: 'BLOCK',
        scope: { namespaces: { include: ['Prod_*'] } },
      }),
    );
    assert.equal(e.field, 'scope.namespaces.include[0]');
    const names = data(
      await h.gql<{ policies: { edges: Array<{ node: { name: string } }> } }>(
        t.ownerToken,
        '{ policies(filter: { name: "bad" }) { edges { node { name } } } }',
      ),
    );
    assert.deepEqual(names.policies.edges, []);
  });

  it('exemptions: added with reason, grantor and expiry; an expired one stops applying by itself', async () => {
    const p = data(
      await create({
        name: 'exempt me',
        type: 'MISCONFIGURATION',
        action: 'BLOCK',
        rules: [{ ruleId: 'privileged-container', enabled: true }],
      }),
    ).createPolicy;
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const added = data(
      await h.gql<{ addPolicyExemption: PolicyView }>(
        t.ownerToken,
        `mutation($id: ID!, $i: ExemptionInput!) { addPolicyExemption(id: $id, input: $i) { ${POLICY_FIELDS} } }`,
        {
          id: p.id,
          i: {
            namespaces: ['kube-system'],
            kinds: ['DaemonSet'],
            names: ['calico-'],
            match: 'PREFIX',
            reason: 'CNI needs privileges',
            expiresAt,
          },
        },
      ),
    ).addPolicyExemption;
    const ex = added.exemptions[0]!;
    assert.equal(ex.reason, 'CNI needs privileges');
    assert.equal(ex.grantedBy, t.ownerId);
    assert.equal(ex.active, true);
    assert.equal(added.version, 2);

    offsetMs = 2 * 3_600_000; // two hours later, nobody touched anything
    try {
      const later = await get(p.id);
      assert.equal(later.exemptions[0]!.active, false);
      assert.equal(later.version, 2);
    } finally {
      offsetMs = 0;
    }

    const past = onlyError(
      await h.gql(
        t.ownerToken,
        `mutation($id: ID!, $i: ExemptionInput!) { addPolicyExemption(id: $id, input: $i) { id } }`,
        { id: p.id, i: { namespaces: ['x'], reason: 'r', expiresAt: '2020-01-01T00:00:00Z' } },
      ),
    );
    assert.equal(past.field, 'input.expiresAt');
    const empty = onlyError(
      await h.gql(
        t.ownerToken,
        `mutation($id: ID!, $i: ExemptionInput!) { addPolicyExemption(id: $id, input: $i) { id } }`,
        { id: p.id, i: { reason: 'everything' } },
      ),
    );
    assert.equal(empty.code, 'BAD_USER_INPUT');
    const cve = onlyError(
      await h.gql(
        t.ownerToken,
        `mutation($id: ID!, $i: ExemptionInput!) { addPolicyExemption(id: $id, input: $i) { id } }`,
        { id: p.id, i: { cves: ['CVE-2024-3094'], reason: 'r' } },
      ),
    );
    assert.match(cve.message, /CVE exemptions belong to VULNERABILITY policies/);

    const removed = data(
      await h.gql<{ removePolicyExemption: PolicyView }>(
        t.ownerToken,
        `mutation($p: ID!, $e: ID!) { removePolicyExemption(policyId: $p, exemptionId: $e) { ${POLICY_FIELDS} } }`,
        { p: p.id, e: ex.id },
      ),
    ).removePolicyExemption;
    assert.deepEqual(removed.exemptions, []);
  });

  it('effectivePolicies says which policies apply in a cluster and namespace, and why', async () => {
    const cluster = data(
      await h.gql<{ registerCluster: { cluster: { id: string } } }>(
        t.ownerToken,
        `mutation { registerCluster(input: { cloudScopeId: "${aws}", name: "eks-prod", distribution: EKS }) { cluster { id } } }`,
      ),
    ).registerCluster.cluster.id;
    const scoped = data(
      await create({
        name: 'prod only',
        type: 'MISCONFIGURATION',
        action: 'BLOCK',
        scope: { cloudScopeIds: [aws], namespaces: { include: ['prod-*'] } },
      }),
    ).createPolicy;
    const q = `query($c: ID!, $n: String!) { effectivePolicies(clusterId: $c, namespace: $n) { policy { id name } matchedBy reason } }`;
    const inProd = data(
      await h.gql<{
        effectivePolicies: Array<{ policy: { id: string; name: string }; matchedBy: string; reason: string }>;
      }>(t.ownerToken, q, { c: cluster, n: 'prod-payments' }),
    ).effectivePolicies;
    const mine = inProd.find((e) => e.policy.id === scoped.id)!;
    assert.equal(mine.matchedBy, 'CLOUD_SCOPE');
    assert.match(mine.reason, /cloud scope AWS_ACCOUNT 123456789012; namespace matches prod-\*/);
    assert.ok(inProd.some((e) => e.policy.name === 'Default K8s misconfiguration rule' && e.matchedBy === 'TENANT'));
    const inDev = data(
      await h.gql<{ effectivePolicies: Array<{ policy: { id: string } }> }>(t.ownerToken, q, { c: cluster, n: 'dev' }),
    ).effectivePolicies;
    assert.ok(!inDev.some((e) => e.policy.id === scoped.id));
  });
});
