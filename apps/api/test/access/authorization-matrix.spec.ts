/**
 * Every query and mutation of the foundation x every role x (tenant-wide, in its
 * cloud scope, another cloud scope, another tenant) -> allowed or denied. Each case
 * sets up its own target as the tenant Owner, then acts as the principal under test.
 * Every filter argument of every list query: authorization-matrix-lists.spec.ts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NO_DB_REASON, startApi, testDatabaseConfigured, type ApiHarness, type GqlResult } from '@portcullis/testing';

type Who = 'ownerT' | 'adminT' | 'readerT' | 'ownerS1' | 'adminS1' | 'readerS1' | 'noRole' | 'otherTenant';
const EVERYONE: readonly Who[] = [
  'ownerT',
  'adminT',
  'readerT',
  'ownerS1',
  'adminS1',
  'readerS1',
  'noRole',
  'otherTenant',
];

interface Fixture {
  h: ApiHarness;
  owner: string;
  tokens: Record<Who, string>;
  s1: string;
  s2: string;
  /** id of the tenant-level SECURITY_ADMIN grant of tenant A */
  tenantGrant: string;
}

let seq = 0;
const uniq = (p: string) => `${p}-${process.pid}-${++seq}`;
const account = () => String(100000000000 + Math.floor(Math.random() * 899999999999)).slice(0, 12);

async function ok<T>(r: Promise<GqlResult<T>>): Promise<T> {
  const res = await r;
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  return res.data as T;
}

async function newCluster(f: Fixture, scope: string): Promise<string> {
  const d = await ok<{ registerCluster: { cluster: { id: string } } }>(
    f.h.gql(f.owner, `mutation($i: RegisterClusterInput!) { registerCluster(input: $i) { cluster { id } } }`, {
      i: { cloudScopeId: scope, name: uniq('c'), distribution: 'EKS' },
    }),
  );
  return d.registerCluster.cluster.id;
}

async function newPolicy(f: Fixture, cloudScopeIds: string[]): Promise<string> {
  const d = await ok<{ createPolicy: { id: string } }>(
    f.h.gql(f.owner, `mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }`, {
      i: {
        name: uniq('p'),
        type: 'MISCONFIGURATION',
        action: 'AUDIT',
        scope: { cloudScopeIds },
        rules: [{ ruleId: 'privileged-container', enabled: true }],
      },
    }),
  );
  return d.createPolicy.id;
}

async function newGrant(f: Fixture, scope: string | null): Promise<string> {
  const d = await ok<{ assignRole: { id: string } }>(
    f.h.gql(f.owner, `mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }`, {
      i: { principalId: randomUUID(), role: 'SECURITY_READER', cloudScopeId: scope },
    }),
  );
  return d.assignRole.id;
}

/** A case: what it does as `token`, and whether its answer counts as "allowed". */
interface Case {
  readonly name: string;
  readonly allowed: readonly Who[];
  run(f: Fixture, token: string): Promise<GqlResult>;
  /** For list queries: allowed = answered without error AND the check holds. */
  check?(data: Record<string, unknown>, f: Fixture): boolean;
}

const ADMINS_T: Who[] = ['ownerT', 'adminT'];
const OWNER_T: Who[] = ['ownerT'];
const READERS_T: Who[] = ['ownerT', 'adminT', 'readerT'];
const S1_MANAGERS: Who[] = ['ownerT', 'adminT', 'ownerS1', 'adminS1'];
const S1_READERS: Who[] = [...S1_MANAGERS, 'readerT', 'readerS1'];

const ids = (conn: unknown) => ((conn as { edges: Array<{ node: { id: string } }> }).edges ?? []).map((e) => e.node.id);

const CASES: Case[] = [
  { name: 'me', allowed: EVERYONE, run: (f, t) => f.h.gql(t, '{ me { tenantId objectId roles { role } } }') },
  { name: 'ruleCatalog', allowed: EVERYONE, run: (f, t) => f.h.gql(t, '{ ruleCatalog { rules { id } } }') },
  {
    name: 'cloudScopes sees S1',
    allowed: S1_READERS,
    run: (f, t) => f.h.gql(t, '{ cloudScopes(first: 100) { edges { node { id } } } }'),
    check: (d, f) => ids(d['cloudScopes']).includes(f.s1),
  },
  {
    name: 'cloudScopes sees S2',
    allowed: READERS_T,
    run: (f, t) => f.h.gql(t, '{ cloudScopes(first: 100) { edges { node { id } } } }'),
    check: (d, f) => ids(d['cloudScopes']).includes(f.s2),
  },
  {
    // another tenant's Owner creates in its own tenant: allowed, and invisible to tenant A (see the list cases)
    name: 'createCloudScope',
    allowed: [...ADMINS_T, 'otherTenant'],
    run: (f, t) =>
      f.h.gql(t, `mutation($i: CreateCloudScopeInput!) { createCloudScope(input: $i) { id } }`, {
        i: { provider: 'AWS_ACCOUNT', externalId: account(), displayName: 'x' },
      }),
  },
  {
    name: 'updateCloudScope S1',
    allowed: S1_MANAGERS,
    run: (f, t) =>
      f.h.gql(t, `mutation($id: ID!) { updateCloudScope(id: $id, input: { displayName: "renamed" }) { id } }`, {
        id: f.s1,
      }),
  },
  {
    name: 'updateCloudScope S2',
    allowed: ADMINS_T,
    run: (f, t) =>
      f.h.gql(t, `mutation($id: ID!) { updateCloudScope(id: $id, input: { displayName: "renamed" }) { id } }`, {
        id: f.s2,
      }),
  },
  {
    name: 'deleteCloudScope',
    allowed: ADMINS_T,
    run: async (f, t) => {
      const d = await ok<{ createCloudScope: { id: string } }>(
        f.h.gql(f.owner, `mutation($i: CreateCloudScopeInput!) { createCloudScope(input: $i) { id } }`, {
          i: { provider: 'GCP_PROJECT', externalId: `p-${randomUUID().slice(0, 12)}`, displayName: 'tmp' },
        }),
      );
      return f.h.gql(t, `mutation($id: ID!) { deleteCloudScope(id: $id) { id } }`, { id: d.createCloudScope.id });
    },
  },
  {
    name: 'clusters sees S1 cluster',
    allowed: S1_READERS,
    run: async (f, t) => {
      const id = await newCluster(f, f.s1);
      const res = await f.h.gql(t, '{ clusters(first: 100) { edges { node { id } } } }');
      return { ...res, data: res.data ? { ...res.data, expected: id } : res.data };
    },
    check: (d) => ids(d['clusters']).includes(d['expected'] as string),
  },
  {
    name: 'registerCluster in S1',
    allowed: S1_MANAGERS,
    run: (f, t) =>
      f.h.gql(t, `mutation($i: RegisterClusterInput!) { registerCluster(input: $i) { agentToken } }`, {
        i: { cloudScopeId: f.s1, name: uniq('r'), distribution: 'AKS' },
      }),
  },
  {
    name: 'registerCluster in S2',
    allowed: ADMINS_T,
    run: (f, t) =>
      f.h.gql(t, `mutation($i: RegisterClusterInput!) { registerCluster(input: $i) { agentToken } }`, {
        i: { cloudScopeId: f.s2, name: uniq('r'), distribution: 'AKS' },
      }),
  },
  {
    name: 'rotateClusterToken S1',
    allowed: S1_MANAGERS,
    run: async (f, t) =>
      f.h.gql(t, `mutation($id: ID!) { rotateClusterToken(id: $id) { agentToken } }`, {
        id: await newCluster(f, f.s1),
      }),
  },
  {
    name: 'rotateClusterToken S2',
    allowed: ADMINS_T,
    run: async (f, t) =>
      f.h.gql(t, `mutation($id: ID!) { rotateClusterToken(id: $id) { agentToken } }`, {
        id: await newCluster(f, f.s2),
      }),
  },
  {
    name: 'setClusterEnforcementMode S1',
    allowed: S1_MANAGERS,
    run: async (f, t) =>
      f.h.gql(t, `mutation($id: ID!) { setClusterEnforcementMode(id: $id, mode: NATIVE) { enforcementMode } }`, {
        id: await newCluster(f, f.s1),
      }),
  },
  {
    name: 'setClusterEnforcementMode S2',
    allowed: ADMINS_T,
    run: async (f, t) =>
      f.h.gql(t, `mutation($id: ID!) { setClusterEnforcementMode(id: $id, mode: NATIVE) { enforcementMode } }`, {
        id: await newCluster(f, f.s2),
      }),
  },
  {
    name: 'deleteCluster S1',
    allowed: S1_MANAGERS,
    run: async (f, t) =>
      f.h.gql(t, `mutation($id: ID!) { deleteCluster(id: $id) { id } }`, { id: await newCluster(f, f.s1) }),
  },
  {
    name: 'deleteCluster S2',
    allowed: ADMINS_T,
    run: async (f, t) =>
      f.h.gql(t, `mutation($id: ID!) { deleteCluster(id: $id) { id } }`, { id: await newCluster(f, f.s2) }),
  },
  {
    name: "roleAssignments sees tenant A's tenant-level grants",
    allowed: READERS_T,
    run: (f, t) => f.h.gql(t, '{ roleAssignments(first: 100) { edges { node { id } } } }'),
    check: (d, f) => ids(d['roleAssignments']).includes(f.tenantGrant),
  },
  {
    name: 'roleAssignments sees S1 grants',
    allowed: S1_READERS,
    run: async (f, t) => {
      const id = await newGrant(f, f.s1);
      const res = await f.h.gql(t, '{ roleAssignments(first: 100) { edges { node { id } } } }');
      return { ...res, data: res.data ? { ...res.data, expected: id } : res.data };
    },
    check: (d) => ids(d['roleAssignments']).includes(d['expected'] as string),
  },
  {
    name: 'assignRole tenant-level',
    allowed: [...OWNER_T, 'otherTenant'],
    run: (f, t) =>
      f.h.gql(t, `mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }`, {
        i: { principalId: randomUUID(), role: 'SECURITY_READER' },
      }),
  },
  {
    name: 'assignRole on S1',
    allowed: ['ownerT', 'ownerS1'],
    run: (f, t) =>
      f.h.gql(t, `mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }`, {
        i: { principalId: randomUUID(), role: 'SECURITY_READER', cloudScopeId: f.s1 },
      }),
  },
  {
    name: 'assignRole on S2',
    allowed: OWNER_T,
    run: (f, t) =>
      f.h.gql(t, `mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }`, {
        i: { principalId: randomUUID(), role: 'SECURITY_READER', cloudScopeId: f.s2 },
      }),
  },
  {
    name: 'revokeRole tenant-level',
    allowed: OWNER_T,
    run: async (f, t) =>
      f.h.gql(t, `mutation($id: ID!) { revokeRole(id: $id) { id } }`, { id: await newGrant(f, null) }),
  },
  {
    name: 'revokeRole on S1',
    allowed: ['ownerT', 'ownerS1'],
    run: async (f, t) =>
      f.h.gql(t, `mutation($id: ID!) { revokeRole(id: $id) { id } }`, { id: await newGrant(f, f.s1) }),
  },
  {
    name: "auditLog shows tenant A's changes",
    allowed: READERS_T,
    run: (f, t) =>
      f.h.gql(t, `query($s: String!) { auditLog(first: 5, filter: { targetId: $s }) { totalCount } }`, { s: f.s1 }),
    check: (d) => (d['auditLog'] as { totalCount: number }).totalCount > 0,
  },
  {
    name: 'policies sees S2 policy',
    allowed: READERS_T,
    run: async (f, t) => {
      const id = await newPolicy(f, [f.s2]);
      const res = await f.h.gql(t, '{ policies(first: 100) { edges { node { id } } } }');
      return { ...res, data: res.data ? { ...res.data, expected: id } : res.data };
    },
    check: (d) => ids(d['policies']).includes(d['expected'] as string),
  },
  {
    name: 'policy(id) in S1',
    allowed: S1_READERS,
    run: async (f, t) => f.h.gql(t, `query($id: ID!) { policy(id: $id) { id } }`, { id: await newPolicy(f, [f.s1]) }),
  },
  {
    name: 'createPolicy in S1',
    allowed: S1_MANAGERS,
    run: (f, t) =>
      f.h.gql(t, `mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }`, {
        i: { name: uniq('n'), type: 'MISCONFIGURATION', action: 'BLOCK', scope: { cloudScopeIds: [f.s1] } },
      }),
  },
  {
    name: 'createPolicy spanning S1 and S2',
    allowed: ADMINS_T,
    run: (f, t) =>
      f.h.gql(t, `mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }`, {
        i: { name: uniq('n'), type: 'MISCONFIGURATION', action: 'BLOCK', scope: { cloudScopeIds: [f.s1, f.s2] } },
      }),
  },
  {
    name: 'createPolicy tenant-wide',
    allowed: [...ADMINS_T, 'otherTenant'],
    run: (f, t) =>
      f.h.gql(t, `mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }`, {
        i: { name: uniq('n'), type: 'MISCONFIGURATION', action: 'AUDIT' },
      }),
  },
  {
    name: 'updatePolicy in S1',
    allowed: S1_MANAGERS,
    run: async (f, t) =>
      f.h.gql(t, `mutation($id: ID!) { updatePolicy(id: $id, input: { version: 1, action: BLOCK }) { id } }`, {
        id: await newPolicy(f, [f.s1]),
      }),
  },
  {
    name: 'updatePolicy in S2',
    allowed: ADMINS_T,
    run: async (f, t) =>
      f.h.gql(t, `mutation($id: ID!) { updatePolicy(id: $id, input: { version: 1, action: BLOCK }) { id } }`, {
        id: await newPolicy(f, [f.s2]),
      }),
  },
  {
    name: 'deletePolicy in S1',
    allowed: S1_MANAGERS,
    run: async (f, t) =>
      f.h.gql(t, `mutation($id: ID!) { deletePolicy(id: $id) { id } }`, { id: await newPolicy(f, [f.s1]) }),
  },
  {
    name: 'deletePolicy spanning S1 and S2',
    allowed: ADMINS_T,
    run: async (f, t) =>
      f.h.gql(t, `mutation($id: ID!) { deletePolicy(id: $id) { id } }`, { id: await newPolicy(f, [f.s1, f.s2]) }),
  },
  // scan upload tokens open every cluster of the tenant: tenant-level admins only
  // retention deletes the inventory of every scope: tenant-level admins set it; anyone with a role reads it
  {
    name: 'admissionRetention',
    allowed: [...S1_READERS, 'otherTenant'],
    run: (f, t) => f.h.gql(t, '{ admissionRetention { days } }'),
  },
  {
    name: 'setAdmissionRetention',
    allowed: [...ADMINS_T, 'otherTenant'],
    run: (f, t) => f.h.gql(t, 'mutation { setAdmissionRetention(days: 30) { days } }'),
  },
  {
    name: 'scanArtifactHistory',
    allowed: [...S1_READERS, 'otherTenant'],
    run: (f, t) => f.h.gql(t, '{ scanArtifactHistory { days } }'),
  },
  {
    name: 'setScanArtifactHistory',
    allowed: [...ADMINS_T, 'otherTenant'],
    run: (f, t) => f.h.gql(t, 'mutation { setScanArtifactHistory(days: 30) { days } }'),
  },
  {
    name: 'createScanUploadToken',
    allowed: [...ADMINS_T, 'otherTenant'],
    run: (f, t) => f.h.gql(t, `mutation { createScanUploadToken(name: "ci") { token } }`),
  },
  {
    name: 'revokeScanUploadToken',
    allowed: ADMINS_T,
    run: async (f, t) =>
      f.h.gql(t, `mutation($id: ID!) { revokeScanUploadToken(id: $id) { id } }`, { id: await newUploadToken(f) }),
  },
  {
    name: "scanUploadTokens sees tenant A's token",
    allowed: ADMINS_T,
    run: async (f, t) => {
      const id = await newUploadToken(f);
      const res = await f.h.gql(t, '{ scanUploadTokens(first: 100) { edges { node { id } } } }');
      return { ...res, data: res.data ? { ...res.data, expected: id } : res.data };
    },
    check: (d) => ids(d['scanUploadTokens']).includes(d['expected'] as string),
  },
  {
    // artifacts describe images, not clusters: any role in the tenant reads them
    name: "scanArtifacts sees tenant A's artifact",
    allowed: [...S1_READERS],
    run: async (f, t) => {
      const id = await newArtifact(f);
      const res = await f.h.gql(t, '{ scanArtifacts(first: 100) { edges { node { id } } } }');
      return { ...res, data: res.data ? { ...res.data, expected: id } : res.data };
    },
    check: (d) => ids(d['scanArtifacts']).includes(d['expected'] as string),
  },
];

async function newUploadToken(f: Fixture): Promise<string> {
  return (
    await ok<{ createScanUploadToken: { scanUploadToken: { id: string } } }>(
      f.h.gql(f.owner, `mutation { createScanUploadToken(name: "matrix") { scanUploadToken { id } } }`),
    )
  ).createScanUploadToken.scanUploadToken.id;
}

async function newArtifact(f: Fixture): Promise<string> {
  const token = (
    await ok<{ createScanUploadToken: { token: string } }>(
      f.h.gql(f.owner, `mutation { createScanUploadToken(name: "matrix") { token } }`),
    )
  ).createScanUploadToken.token;
  const report = {
    SchemaVersion: 2,
    ArtifactType: 'container_image',
    Metadata: { RepoTags: [`ghcr.io/acme/${uniq('img')}:1`] },
    Results: [],
  };
  const res = await f.h
    .http()
    .post('/api/v1/scan-reports')
    .set('Authorization', `Bearer ${token}`)
    .set('Content-Type', 'application/json')
    .send(JSON.stringify(report));
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return (res.body as { artifact: { id: string } }).artifact.id;
}

describe('authorization matrix', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let f: Fixture;
  before(async () => {
    const h = await startApi();
    const a = await h.onboard('matrix A');
    const b = await h.onboard('matrix B');
    const scope = async (externalId: string) =>
      (
        await ok<{ createCloudScope: { id: string } }>(
          h.gql(a.ownerToken, `mutation($i: CreateCloudScopeInput!) { createCloudScope(input: $i) { id } }`, {
            i: { provider: 'AWS_ACCOUNT', externalId, displayName: externalId },
          }),
        )
      ).createCloudScope.id;
    const s1 = await scope(account());
    const s2 = await scope(account());
    const people: Partial<Record<Who, string>> = { ownerT: a.ownerToken, otherTenant: b.ownerToken };
    const grants: Array<[Who, string, string | null]> = [
      ['adminT', 'SECURITY_ADMIN', null],
      ['readerT', 'SECURITY_READER', null],
      ['ownerS1', 'OWNER', s1],
      ['adminS1', 'SECURITY_ADMIN', s1],
      ['readerS1', 'SECURITY_READER', s1],
    ];
    let tenantGrant = '';
    for (const [who, role, cloudScopeId] of grants) {
      const oid = randomUUID();
      const g = await ok<{ assignRole: { id: string } }>(
        h.gql(a.ownerToken, `mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }`, {
          i: { principalId: oid, role, cloudScopeId },
        }),
      );
      if (who === 'adminT') tenantGrant = g.assignRole.id;
      people[who] = await h.token(a.tenantId, oid, who);
    }
    people.noRole = await h.token(a.tenantId, randomUUID(), 'nobody');
    f = { h, owner: a.ownerToken, tokens: people as Record<Who, string>, s1, s2, tenantGrant };
  });
  after(async () => {
    await f?.h.close();
  });

  for (const c of CASES) {
    for (const who of EVERYONE) {
      const expected = c.allowed.includes(who) ? 'allowed' : 'denied';
      it(`${c.name} as ${who}: ${expected}`, async () => {
        const res = await c.run(f, f.tokens[who]);
        const answered = !res.errors && res.data !== null && res.data !== undefined;
        const allowed = answered && (c.check ? c.check(res.data as Record<string, unknown>, f) : true);
        assert.equal(allowed ? 'allowed' : 'denied', expected, JSON.stringify(res));
        if (!answered) {
          const code = res.errors?.[0]?.extensions?.code;
          assert.ok(
            ['FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'UNAUTHENTICATED'].includes(code ?? ''),
            `denial carries a code: ${JSON.stringify(res.errors)}`,
          );
        }
      });
    }
  }
});
