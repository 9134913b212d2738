import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NO_DB_REASON, onlyError, startApi, testDatabaseConfigured, type ApiHarness } from '@portcullis/testing';

describe('foundation over HTTP', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let tenant: { tenantId: string; ownerId: string; ownerToken: string };
  before(async () => {
    h = await startApi();
    tenant = await h.onboard('Contoso');
  });
  after(async () => h?.close());

  describe('health, readiness, metrics', () => {
    it('/healthz answers without a token', async () => {
      const res = await h.http().get('/healthz').expect(200);
      assert.deepEqual(res.body, { status: 'ok' });
    });
    it('/readyz checks PostgreSQL and Redis', async () => {
      const res = await h.http().get('/readyz').expect(200);
      assert.deepEqual(res.body, { status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
    });
    it('/metrics is Prometheus text with request histograms', async () => {
      await h.http().get('/healthz');
      const res = await h.http().get('/metrics').expect(200);
      assert.match(res.headers['content-type'] ?? '', /text\/plain/);
      assert.match(res.text, /portcullis_api_http_request_duration_seconds_bucket\{/);
      assert.match(res.text, /portcullis_api_process_cpu_user_seconds_total/);
    });
    it('every response carries a request id, honouring a well-formed incoming one', async () => {
      const res = await h.http().get('/healthz').set('X-Request-Id', 'trace-123');
      assert.equal(res.headers['x-request-id'], 'trace-123');
      const generated = await h.http().get('/healthz').set('X-Request-Id', 'bad id with spaces');
      assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    });
  });

  describe('me', () => {
    it('answers who the caller is, in which tenant, with which roles', async () => {
      const res = await h.gql<{
        me: {
          tenantId: string;
          tenantName: string;
          objectId: string;
          name: string;
          roles: Array<{ role: string; cloudScopeId: null }>;
        };
      }>(tenant.ownerToken, '{ me { tenantId tenantName objectId name roles { role cloudScopeId } } }');
      assert.equal(res.errors, undefined);
      assert.deepEqual(res.data!.me, {
        tenantId: tenant.tenantId,
        tenantName: 'Contoso',
        objectId: tenant.ownerId,
        name: 'Owner',
        roles: [{ role: 'OWNER', cloudScopeId: null }],
      });
    });
    it('a valid token of a tenant that is not onboarded is UNAUTHENTICATED, saying so', async () => {
      const stranger = randomUUID();
      const e = onlyError(await h.gql(await h.token(stranger, randomUUID()), '{ me { tenantId } }'));
      assert.equal(e.code, 'UNAUTHENTICATED');
      assert.match(e.message, new RegExp(`tenant ${stranger} is not onboarded`));
    });
    it('no token at all is UNAUTHENTICATED', async () => {
      assert.equal(onlyError(await h.gql(undefined, '{ me { tenantId } }')).code, 'UNAUTHENTICATED');
    });
  });

  describe('bad input names the field and writes nothing', () => {
    const create = (token: string, i: Record<string, unknown>) =>
      h.gql(token, 'mutation($i: CreateCloudScopeInput!) { createCloudScope(input: $i) { id externalId } }', { i });
    const count = async () =>
      (await h.gql<{ cloudScopes: { totalCount: number } }>(tenant.ownerToken, '{ cloudScopes { totalCount } }')).data!
        .cloudScopes.totalCount;

    const malformed: Array<[string, string]> = [
      ['AZURE_SUBSCRIPTION', 'not-a-guid'],
      ['AWS_ACCOUNT', '12345'],
      ['AWS_ACCOUNT', '1234567890123'],
      ['GCP_PROJECT', 'Upper-Case-Project'],
      ['GCP_PROJECT', '1starts-with-digit'],
      ['GCP_PROJECT', 'ends-with-hyphen-'],
    ];
    for (const [provider, externalId] of malformed) {
      it(`${provider} "${externalId}" -> BAD_USER_INPUT on externalId`, async () => {
        const before = await count();
        const e = onlyError(await create(tenant.ownerToken, { provider, externalId, displayName: 'x' }));
        assert.equal(e.code, 'BAD_USER_INPUT');
        assert.equal(e.field, 'externalId');
        assert.equal(await count(), before);
      });
    }

    it('an unknown enum value -> BAD_USER_INPUT naming it', async () => {
      const e = onlyError(
        await create(tenant.ownerToken, { provider: 'ALIBABA_ACCOUNT', externalId: '1', displayName: 'x' }),
      );
      assert.equal(e.code, 'BAD_USER_INPUT');
      assert.match(e.message, /provider|ALIBABA_ACCOUNT/);
    });

    it('an oversized string -> BAD_USER_INPUT on that field', async () => {
      const e = onlyError(
        await create(tenant.ownerToken, {
          provider: 'AWS_ACCOUNT',
          externalId: '123456789012',
          displayName: 'x'.repeat(201),
        }),
      );
      assert.equal(e.code, 'BAD_USER_INPUT');
      assert.equal(e.field, 'displayName');
    });

    it('a duplicate -> CONFLICT on the field, and the first one stays', async () => {
      const i = {
        provider: 'AZURE_SUBSCRIPTION',
        externalId: '0B1F6471-1BF0-4DDA-AEC3-CB9272F09590',
        displayName: 'prod',
      };
      const first = await create(tenant.ownerToken, i);
      assert.equal(first.errors, undefined);
      assert.equal(
        (first.data as { createCloudScope: { externalId: string } }).createCloudScope.externalId,
        '0b1f6471-1bf0-4dda-aec3-cb9272f09590',
      );
      const before = await count();
      const e = onlyError(await create(tenant.ownerToken, { ...i, externalId: i.externalId.toLowerCase() }));
      assert.equal(e.code, 'CONFLICT');
      assert.equal(e.field, 'externalId');
      assert.equal(await count(), before);
    });

    it('a duplicate cluster name -> CONFLICT on name, one audit entry only', async () => {
      const scope = await h.gql<{ createCloudScope: { id: string } }>(
        tenant.ownerToken,
        'mutation { createCloudScope(input: { provider: GCP_PROJECT, externalId: "dup-project", displayName: "dup" }) { id } }',
      );
      const input = { cloudScopeId: scope.data!.createCloudScope.id, name: 'dup-cluster', distribution: 'GKE' };
      const q = 'mutation($i: RegisterClusterInput!) { registerCluster(input: $i) { cluster { id } } }';
      assert.equal((await h.gql(tenant.ownerToken, q, { i: input })).errors, undefined);
      const e = onlyError(await h.gql(tenant.ownerToken, q, { i: input }));
      assert.equal(e.code, 'CONFLICT');
      assert.equal(e.field, 'name');
      const log = await h.gql<{ auditLog: { totalCount: number } }>(
        tenant.ownerToken,
        '{ auditLog(filter: { action: "cluster.register" }) { totalCount } }',
      );
      assert.equal(log.data!.auditLog.totalCount, 1);
    });

    it('an invalid cluster name -> BAD_USER_INPUT on name', async () => {
      const e = onlyError(
        await h.gql(
          tenant.ownerToken,
          'mutation { registerCluster(input: { cloudScopeId: "3f1c0e6a-0000-4000-8000-000000000000", name: "Not_A_DNS_Label", distribution: AKS }) { agentToken } }',
        ),
      );
      assert.equal(e.code, 'BAD_USER_INPUT');
      assert.equal(e.field, 'name');
    });
  });

  describe('role assignments and the last owner', () => {
    it('the last tenant-level OWNER cannot be revoked; with a second one it can', async () => {
      const t = await h.onboard();
      const list = await h.gql<{ roleAssignments: { edges: Array<{ node: { id: string; role: string } }> } }>(
        t.ownerToken,
        '{ roleAssignments { edges { node { id role } } } }',
      );
      const ownerGrant = list.data!.roleAssignments.edges[0]!.node.id;
      const revoke = 'mutation($id: ID!) { revokeRole(id: $id) { id } }';
      const e = onlyError(await h.gql(t.ownerToken, revoke, { id: ownerGrant }));
      assert.equal(e.code, 'CONFLICT');
      assert.match(e.message, /last tenant-level OWNER/);
      const second = randomUUID();
      assert.equal(
        (
          await h.gql(
            t.ownerToken,
            'mutation($p: ID!) { assignRole(input: { principalId: $p, role: OWNER }) { id } }',
            { p: second },
          )
        ).errors,
        undefined,
      );
      assert.equal((await h.gql(t.ownerToken, revoke, { id: ownerGrant })).errors, undefined);
    });
  });

  describe('audit log', () => {
    it('records principal, action, target and before/after of every mutation', async () => {
      const t = await h.onboard();
      const created = await h.gql<{ createCloudScope: { id: string } }>(
        t.ownerToken,
        'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "210987654321", displayName: "Payments" }) { id } }',
      );
      const id = created.data!.createCloudScope.id;
      const updated = await h.gql(
        t.ownerToken,
        `mutation { updateCloudScope(id: "${id}", input: { displayName: "Payments prod" }) { id } }`,
      );
      assert.equal(updated.errors, undefined, JSON.stringify(updated.errors));
      const res = await h.gql<{
        auditLog: {
          edges: Array<{
            node: {
              action: string;
              principalId: string;
              targetId: string;
              before: { displayName: string } | null;
              after: { displayName: string };
            };
          }>;
        };
      }>(
        t.ownerToken,
        `{ auditLog(filter: { targetId: "${id}" }) { edges { node { action principalId targetId before after } } } }`,
      );
      const [update, create] = res.data!.auditLog.edges.map((e) => e.node);
      assert.equal(update!.action, 'cloudScope.update');
      assert.equal(update!.principalId, t.ownerId);
      assert.equal(update!.before!.displayName, 'Payments');
      assert.equal(update!.after.displayName, 'Payments prod');
      assert.equal(create!.action, 'cloudScope.create');
      assert.equal(create!.before, null);
    });
  });

  describe('limits', () => {
    it('refuses an operation nested deeper than the limit', async () => {
      const deep = `{ policies { edges { node { scope { clusters { cloudScope { id } } } } } } }`;
      const shallow = await startApi({ GRAPHQL_MAX_DEPTH: '4' });
      try {
        const e = onlyError(await shallow.gql(tenant.ownerToken, deep));
        assert.equal(e.code, 'BAD_USER_INPUT');
        assert.match(e.message, /nested 7 levels deep; the limit is 4/);
      } finally {
        await shallow.close();
      }
    });
    it('refuses an operation whose estimated cost is over the limit', async () => {
      const page =
        'policies(first: 100) { edges { node { rules { ruleId params } scope { clusters { id name cloudScope { id displayName } } } } } }';
      const e = onlyError(await h.gql(tenant.ownerToken, `{ a: ${page} b: ${page} }`));
      assert.equal(e.code, 'BAD_USER_INPUT');
      assert.match(e.message, /complexity \d+ exceeds the limit of 2000/);
    });
    it('refuses a request body over the limit with 413', async () => {
      const res = await h
        .http()
        .post('/graphql')
        .set('Authorization', `Bearer ${tenant.ownerToken}`)
        .set('Content-Type', 'application/json')
        .send({ query: `{ me { tenantId } } #${'x'.repeat(1_100_000)}` });
      assert.equal(res.status, 413);
    });
  });
});
