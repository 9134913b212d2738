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

const FILE = (name: string, extra = '') => `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: ${name}, description: prod workloads of the payments account }
spec:
  type: MISCONFIGURATION
  action: BLOCK
  scope: { cloudScopes: ["aws:210000000001"], namespaces: { include: ["prod-*"], exclude: ["prod-sandbox"] } }
  rules:
    - preset: pss-restricted
    - id: resource-limits
      params: { maxMemoryLimit: 2Gi }
  exemptions:
    - namespaces: [prod-legacy]
      kinds: [Deployment]
      match: EQUALS
      reason: migrating off root images
      grantedBy: alice
      expiresAt: "2030-01-01T00:00:00.000Z"
${extra}`;

function data<T>(res: GqlResult<T>): T {
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  return res.data as T;
}

describe('policy as code', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let owner: string;
  before(async () => {
    h = await startApi();
    owner = (await h.onboard('Policy as code')).ownerToken;
    data(
      await h.gql(
        owner,
        'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "210000000001", displayName: "payments" }) { id } }',
      ),
    );
  });
  after(async () => h?.close());

  const importDoc = (document: string, dryRun = false) =>
    h.gql<{
      importPolicies: {
        dryRun: boolean;
        changes: Array<{ name: string; change: string; policyId: string | null; changedFields: string[] }>;
      };
    }>(
      owner,
      'mutation($d: String!, $dry: Boolean!) { importPolicies(document: $d, dryRun: $dry) { dryRun changes { name change policyId changedFields } } }',
      { d: document, dry: dryRun },
    );
  const policyNames = async () =>
    data(
      await h.gql<{ policies: { edges: Array<{ node: { name: string; version: number } }> } }>(
        owner,
        '{ policies(first: 100) { edges { node { name version } } } }',
      ),
    ).policies.edges.map((e) => e.node);

  it('a dry run reports what would change and writes nothing', async () => {
    const before = await policyNames();
    const dry = data(await importDoc(FILE('dry-run-policy'), true)).importPolicies;
    assert.equal(dry.dryRun, true);
    assert.deepEqual(
      dry.changes.map((c) => [c.name, c.change, c.policyId]),
      [['dry-run-policy', 'CREATED', null]],
    );
    assert.deepEqual(await policyNames(), before);
  });

  it('imports, then export -> delete -> import round-trips to an identical policy', async () => {
    const created = data(await importDoc(FILE('restricted-prod'))).importPolicies.changes[0]!;
    assert.equal(created.change, 'CREATED');
    const again = data(await importDoc(FILE('restricted-prod'))).importPolicies.changes[0]!;
    assert.equal(again.change, 'UNCHANGED', 're-importing the same file changes nothing');

    const fields =
      'name description type action scope { cloudScopes { externalId } clusters { name } namespaces { include exclude } } rules { ruleId enabled params } exemptions { namespaces kinds names images cves rules match reason grantedBy expiresAt }';
    const original = data(
      await h.gql<{ policy: unknown }>(owner, `query($id: ID!) { policy(id: $id) { ${fields} } }`, {
        id: created.policyId,
      }),
    ).policy;
    const exported = data(
      await h.gql<{ exportPolicies: string }>(owner, 'query($ids: [ID!]) { exportPolicies(ids: $ids) }', {
        ids: [created.policyId],
      }),
    ).exportPolicies;
    assert.match(exported, /apiVersion: portcullis.dev\/v1/);
    assert.match(exported, /aws:210000000001/);

    data(await h.gql(owner, 'mutation($id: ID!) { deletePolicy(id: $id) { id } }', { id: created.policyId }));
    const reimported = data(await importDoc(exported)).importPolicies.changes[0]!;
    assert.equal(reimported.change, 'CREATED');
    const copy = data(
      await h.gql<{ policy: unknown }>(owner, `query($id: ID!) { policy(id: $id) { ${fields} } }`, {
        id: reimported.policyId,
      }),
    ).policy;
    assert.deepEqual(copy, original);
  });

  it('an update reports the fields it changes and bumps the version', async () => {
    data(await importDoc(FILE('to-update')));
    const changed = data(await importDoc(FILE('to-update').replace('action: BLOCK', 'action: AUDIT'))).importPolicies
      .changes[0]!;
    assert.equal(changed.change, 'UPDATED');
    assert.deepEqual(changed.changedFields, ['action']);
  });

  it('a malformed import is refused naming the document and field, and leaves nothing changed', async () => {
    const before = await policyNames();
    const good = FILE('would-be-created');
    const bad = FILE('broken').replace('maxMemoryLimit: 2Gi', 'maxMemoryLimit: 2GB');
    const e = onlyError(await importDoc(`${good}---\n${bad}`));
    assert.equal(e.code, 'BAD_USER_INPUT');
    assert.equal(e.field, 'document[1].spec.rules[1].params.maxMemoryLimit');
    assert.match(e.message, /document 2: spec.rules\[1\].params.maxMemoryLimit/);
    assert.deepEqual(await policyNames(), before);

    const unknownScope = onlyError(
      await importDoc(`${good}---\n${FILE('other-account').replace('aws:210000000001', 'aws:999999999999')}`),
    );
    assert.equal(unknownScope.field, 'document[1].spec.scope.cloudScopes[0]');
    assert.deepEqual(await policyNames(), before, 'the valid first document was rolled back with the second');

    const yaml = onlyError(await importDoc('apiVersion: portcullis.dev/v1\nkind: Policy\n  metadata: [oops'));
    assert.equal(yaml.code, 'BAD_USER_INPUT');
  });

  it('an import writes what createPolicy and updatePolicy write: the same audit entries, and events naming every cluster the policy reached', async () => {
    const tenantWide = FILE('was-tenant-wide').replace('cloudScopes: ["aws:210000000001"], ', '');
    const created = data(await importDoc(tenantWide)).importPolicies.changes[0]!;
    const narrowed = data(await importDoc(FILE('was-tenant-wide'))).importPolicies.changes[0]!;
    assert.equal(narrowed.change, 'UPDATED');
    assert.deepEqual(narrowed.changedFields, ['cloudScopes']);
    // the policy left every other cloud scope: their clusters must drop it, so the event covers the tenant
    const events = await h.prisma.domainEvent.findMany({
      where: { payload: { path: ['policyId'], equals: created.policyId! } },
      orderBy: { id: 'asc' },
    });
    assert.deepEqual(
      events.map((e) => [e.type, (e.payload as { cloudScopeIds: string[] }).cloudScopeIds.length]),
      [
        ['policy.created', 0],
        ['policy.updated', 0],
      ],
    );

    const viaApi = data(
      await h.gql<{ createPolicy: { id: string } }>(
        owner,
        'mutation { createPolicy(input: { name: "made-by-api", type: MISCONFIGURATION, action: AUDIT }) { id } }',
      ),
    ).createPolicy;
    type Entry = { action: string; before: Record<string, unknown> | null; after: Record<string, unknown> | null };
    const log = async (id: string) =>
      data(
        await h.gql<{ auditLog: { edges: Array<{ node: Entry }> } }>(
          owner,
          `{ auditLog(filter: { targetId: "${id}" }) { edges { node { action before after } } } }`,
        ),
      ).auditLog.edges.map((e) => e.node);
    const imported = await log(created.policyId!);
    assert.deepEqual(
      imported.map((l) => l.action),
      ['policy.update', 'policy.create'],
    );
    const [apiCreate] = await log(viaApi.id);
    assert.deepEqual(
      Object.keys(imported[1]!.after!).sort(),
      Object.keys(apiCreate!.after!).sort(),
      'the same snapshot of the policy',
    );
    assert.deepEqual(Object.keys(imported[0]!.before!).sort(), Object.keys(apiCreate!.after!).sort());
    assert.equal((imported[0]!.after as { version: number }).version, 2);
  });

  it("an import holds a description to the API's bound, naming the document", async () => {
    const before = await policyNames();
    const long = 'x'.repeat(2001);
    const e = onlyError(
      await importDoc(
        FILE('long-description').replace('description: prod workloads of the payments account', `description: ${long}`),
      ),
    );
    assert.equal(e.code, 'BAD_USER_INPUT');
    assert.equal(e.field, 'document[0].metadata.description');
    assert.match(e.message, /at most 2000 characters/);
    assert.deepEqual(await policyNames(), before);
  });

  it('a default policy can change action and rules through a file, never its scope', async () => {
    const exported = data(await h.gql<{ exportPolicies: string }>(owner, '{ exportPolicies }')).exportPolicies;
    const defaults = exported.split('---\n').find((d) => d.includes('Default K8s misconfiguration rule'))!;
    const blocked = data(await importDoc(defaults.replace('action: AUDIT', 'action: BLOCK'))).importPolicies
      .changes[0]!;
    assert.equal(blocked.change, 'UPDATED');
    const e = onlyError(await importDoc(defaults.replace('include: []', 'include:\n        - prod-*')));
    assert.equal(e.code, 'BAD_USER_INPUT');
    assert.match(e.message, /default policy; only its action and rules can change/);
  });
});
