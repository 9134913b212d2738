/**
 * Every filter argument of every list query in schema.gql x every role x (own scope,
 * other scope, other tenant). A list query is a Query field that returns a connection or
 * a list, or pages with `first`; its filter arguments are its arguments but the paging
 * ones, input objects taken field by field. A list query or filter argument without an
 * entry here fails the enumeration test, and so does an entry the schema no longer has.
 *
 * Each entry seeds, per place (S1 and S2 of tenant A, SB of tenant B), a target the filter
 * selects, then runs the query as each principal with the filter selecting each place:
 * - every row returned is one the principal may read (and a policy names no scope it cannot read);
 * - the target is returned exactly when the principal reads the place;
 * - a scope filter for a scope the principal cannot read returns nothing;
 * - a lookup argument naming something unreadable answers NOT_FOUND, word for word as an unknown id.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  buildSchema,
  getNamedType,
  isInputObjectType,
  isListType,
  isNonNullType,
  type GraphQLOutputType,
} from 'graphql';
import { persistAlert } from '@portcullis/alerts';
import { repoPath } from '@portcullis/config';
import { prepareSnapshot } from '@portcullis/contracts';
import { withTenant } from '@portcullis/db';
import {
  NO_DB_REASON,
  admissionEvent as admission,
  finding,
  startApi,
  testDatabaseConfigured,
  type ApiHarness,
  type GqlResult,
} from '@portcullis/testing';
import { podSnapshot, upload } from '../inventory/support';

export type Who = 'ownerT' | 'adminT' | 'readerT' | 'ownerS1' | 'adminS1' | 'readerS1' | 'noRole' | 'otherTenant';
export const EVERYONE: readonly Who[] = [
  'ownerT',
  'adminT',
  'readerT',
  'ownerS1',
  'adminS1',
  'readerS1',
  'noRole',
  'otherTenant',
];
const TENANT_LEVEL: readonly Who[] = ['ownerT', 'adminT', 'readerT'];
const SCOPE_S1: readonly Who[] = ['ownerS1', 'adminS1', 'readerS1'];

type Place = 'S1' | 'S2' | 'B';
const PLACES: readonly Place[] = ['S1', 'S2', 'B'];
const PAGING = new Set(['after', 'first']);

/** What the seeding left in each place; a filter value selects one of them. */
interface Seed {
  scope: string;
  provider: string;
  scopeExternalId: string;
  cluster: string;
  clusterName: string;
  policy: string;
  policyName: string;
  grant: string;
  grantPrincipal: string;
  event: string;
  eventAt: Date;
  registeredAt: { from: Date; to: Date };
  ownerId: string;
  auditEntry: string;
  artifact: string;
  artifactRepo: string;
  artifactTag: string;
  artifactDigest: string;
  revokedToken: string;
  /** uid of the place's running workload (background audit): Deployment <clusterName> in namespace <clusterName>. */
  runningUid: string;
  alertRule: string;
  alertRuleKind: string;
  deletedDestination: string;
  destination: string;
  delivery: string;
  alertAt: Date;
}

export interface VisibilityFixture {
  h: ApiHarness;
  tokens: Record<Who, string>;
  ownerA: string;
  ownerB: string;
  seeds: Record<Place, Seed>;
  /** id -> tenant and scopes of every row of every entity, as the tenant Owners see them ([] = tenant-level). */
  rows: Map<string, RowMeta>;
  /** the policy of tenant A spanning S1 and S2 */
  spanning: string;
}

interface RowMeta {
  readonly tenant: 'A' | 'B';
  readonly scopes: readonly string[];
}

interface Row {
  readonly id: string;
  /** Scopes the row names in the answer; [] = tenant-level (or not scoped). */
  readonly scopes: readonly string[];
}

type Access = 'read' | 'tenantRead' | 'tenantManage';
/** scoped: rows of a scope; policy: scoped, tenant-level rows readable by any reader; tenant: not scoped at all. */
type Scoping = 'scoped' | 'policy' | 'tenant';

interface ListEntry {
  readonly access: Access;
  readonly scoping: Scoping;
  /** The query, `$v` bound to what `argument` returns. */
  readonly query: string;
  readonly rows: (data: Record<string, unknown>) => Row[];
  /** Filter arguments ('filter.x' or 'x') -> the variable value selecting the place's target, and the target. */
  readonly arguments: Record<
    string,
    { value(s: Seed): unknown; target(s: Seed): string; scopeFilter?: boolean; lookup?: (s: Seed) => string }
  >;
}

const edges = (conn: unknown) => (conn as { edges: Array<{ node: Record<string, unknown> }> }).edges.map((e) => e.node);
const scopeOf = (cs: unknown) => ((cs as { id: string } | null)?.id ? [(cs as { id: string }).id] : []);
const policyRow = (p: Record<string, unknown>): Row => {
  const scope = p['scope'] as { cloudScopes: Array<{ id: string }>; clusters: Array<{ cloudScope: { id: string } }> };
  return {
    id: p['id'] as string,
    scopes: [...new Set([...scope.cloudScopes.map((s) => s.id), ...scope.clusters.map((c) => c.cloudScope.id)])],
  };
};
const POLICY_FIELDS = 'id scope { cloudScopes { id } clusters { cloudScope { id } } }';
const window = (at: Date) => ({
  from: new Date(at.getTime() - 60_000).toISOString(),
  to: new Date(at.getTime() + 60_000).toISOString(),
});

export const LIST_ENTRIES: Record<string, ListEntry> = {
  clusters: {
    access: 'read',
    scoping: 'scoped',
    query:
      'query($v: ClusterFilter) { r: clusters(first: 100, filter: $v) { edges { node { id cloudScope { id } } } } }',
    rows: (d) => edges(d['r']).map((n) => ({ id: n['id'] as string, scopes: scopeOf(n['cloudScope']) })),
    arguments: {
      '(none)': { value: () => null, target: (s) => s.cluster },
      'filter.cloudScopeId': { value: (s) => ({ cloudScopeId: s.scope }), target: (s) => s.cluster, scopeFilter: true },
      'filter.distribution': { value: () => ({ distribution: 'EKS' }), target: (s) => s.cluster },
      'filter.search': { value: (s) => ({ search: s.clusterName }), target: (s) => s.cluster },
    },
  },
  roleAssignments: {
    access: 'read',
    scoping: 'scoped',
    query:
      'query($v: RoleAssignmentFilter) { r: roleAssignments(first: 100, filter: $v) { edges { node { id cloudScope { id } } } } }',
    rows: (d) => edges(d['r']).map((n) => ({ id: n['id'] as string, scopes: scopeOf(n['cloudScope']) })),
    arguments: {
      '(none)': { value: () => null, target: (s) => s.grant },
      'filter.cloudScopeId': { value: (s) => ({ cloudScopeId: s.scope }), target: (s) => s.grant, scopeFilter: true },
      'filter.principalId': { value: (s) => ({ principalId: s.grantPrincipal }), target: (s) => s.grant },
      'filter.role': { value: () => ({ role: 'SECURITY_READER' }), target: (s) => s.grant },
    },
  },
  cloudScopes: {
    access: 'read',
    scoping: 'scoped',
    query: 'query($v: CloudScopeFilter) { r: cloudScopes(first: 100, filter: $v) { edges { node { id } } } }',
    rows: (d) => edges(d['r']).map((n) => ({ id: n['id'] as string, scopes: [n['id'] as string] })),
    arguments: {
      '(none)': { value: () => null, target: (s) => s.scope },
      'filter.provider': { value: (s) => ({ provider: s.provider }), target: (s) => s.scope },
      'filter.search': { value: (s) => ({ search: s.scopeExternalId }), target: (s) => s.scope },
    },
  },
  policies: {
    access: 'read',
    scoping: 'policy',
    query: `query($v: PolicyFilter) { r: policies(first: 100, filter: $v) { edges { node { ${POLICY_FIELDS} } } } }`,
    rows: (d) => edges(d['r']).map(policyRow),
    arguments: {
      '(none)': { value: () => null, target: (s) => s.policy },
      'filter.action': { value: () => ({ action: 'BLOCK' }), target: (s) => s.policy },
      'filter.cloudScopeId': { value: (s) => ({ cloudScopeId: s.scope }), target: (s) => s.policy, scopeFilter: true },
      'filter.name': { value: (s) => ({ name: s.policyName }), target: (s) => s.policy },
      'filter.type': { value: () => ({ type: 'MISCONFIGURATION' }), target: (s) => s.policy },
    },
  },
  admissionEvents: {
    access: 'read',
    scoping: 'scoped',
    query:
      'query($v: AdmissionEventFilter) { r: admissionEvents(first: 100, filter: $v) { edges { node { eventId cloudScopeId } } } }',
    rows: (d) => edges(d['r']).map((n) => ({ id: n['eventId'] as string, scopes: [n['cloudScopeId'] as string] })),
    arguments: {
      '(none)': { value: () => null, target: (s) => s.event },
      'filter.cloudScopeId': { value: (s) => ({ cloudScopeId: s.scope }), target: (s) => s.event, scopeFilter: true },
      'filter.clusterId': { value: (s) => ({ clusterId: s.cluster }), target: (s) => s.event },
      'filter.decision': { value: () => ({ decision: 'AUDITED' }), target: (s) => s.event },
      'filter.from': { value: (s) => ({ from: window(s.eventAt).from }), target: (s) => s.event },
      'filter.to': { value: (s) => ({ to: window(s.eventAt).to }), target: (s) => s.event },
      'filter.image': {
        value: (s) => ({ image: `registry.example.com/vis/${s.clusterName}:1` }),
        target: (s) => s.event,
      },
      'filter.namespace': { value: (s) => ({ namespace: s.clusterName }), target: (s) => s.event },
      'filter.policyId': { value: (s) => ({ policyId: s.policy }), target: (s) => s.event },
      'filter.ruleId': { value: () => ({ ruleId: 'privileged-container' }), target: (s) => s.event },
      'filter.workload': { value: (s) => ({ workload: `Deployment/${s.clusterName}` }), target: (s) => s.event },
    },
  },
  auditLog: {
    access: 'tenantRead',
    scoping: 'tenant',
    query: 'query($v: AuditLogFilter) { r: auditLog(first: 100, filter: $v) { edges { node { id } } } }',
    rows: (d) => edges(d['r']).map((n) => ({ id: n['id'] as string, scopes: [] })),
    arguments: {
      '(none)': { value: () => null, target: (s) => s.auditEntry },
      'filter.action': { value: () => ({ action: 'cluster.register' }), target: (s) => s.auditEntry },
      'filter.targetId': { value: (s) => ({ targetId: s.cluster }), target: (s) => s.auditEntry },
      'filter.targetType': { value: () => ({ targetType: 'Cluster' }), target: (s) => s.auditEntry },
      'filter.principalId': { value: (s) => ({ principalId: s.ownerId }), target: (s) => s.auditEntry },
      'filter.from': { value: (s) => ({ from: s.registeredAt.from.toISOString() }), target: (s) => s.auditEntry },
      'filter.to': { value: (s) => ({ to: s.registeredAt.to.toISOString() }), target: (s) => s.auditEntry },
    },
  },
  scanArtifacts: {
    access: 'read',
    scoping: 'tenant',
    query: 'query($v: ScanArtifactFilter) { r: scanArtifacts(first: 100, filter: $v) { edges { node { id } } } }',
    rows: (d) => edges(d['r']).map((n) => ({ id: n['id'] as string, scopes: [] })),
    arguments: {
      '(none)': { value: () => null, target: (s) => s.artifact },
      'filter.digest': { value: (s) => ({ digest: s.artifactDigest }), target: (s) => s.artifact },
      'filter.repository': { value: (s) => ({ repository: s.artifactRepo }), target: (s) => s.artifact },
      'filter.repositoryContains': {
        value: (s) => ({ repository: s.artifactRepo.slice(-12), repositoryContains: true }),
        target: (s) => s.artifact,
      },
      'filter.tag': { value: (s) => ({ tag: s.artifactTag }), target: (s) => s.artifact },
      'filter.tagBound': { value: () => ({ tagBound: false }), target: (s) => s.artifact },
    },
  },
  alertRules: {
    access: 'tenantRead',
    scoping: 'tenant',
    query: 'query($v: AlertRuleKind) { r: alertRules(first: 100, kind: $v) { edges { node { id } } } }',
    rows: (d) => edges(d['r']).map((n) => ({ id: n['id'] as string, scopes: [] })),
    arguments: {
      kind: { value: (s) => s.alertRuleKind, target: (s) => s.alertRule },
    },
  },
  alertDestinations: {
    access: 'tenantManage',
    scoping: 'tenant',
    query: 'query($v: Boolean) { r: alertDestinations(first: 100, includeDeleted: $v) { edges { node { id } } } }',
    rows: (d) => edges(d['r']).map((n) => ({ id: n['id'] as string, scopes: [] })),
    arguments: {
      includeDeleted: { value: () => true, target: (s) => s.deletedDestination },
    },
  },
  alertDeliveries: {
    access: 'read',
    scoping: 'scoped',
    query:
      'query($v: AlertDeliveryFilter) { r: alertDeliveries(first: 100, filter: $v) { edges { node { id cloudScopeId } } } }',
    rows: (d) =>
      edges(d['r']).map((n) => ({
        id: n['id'] as string,
        scopes: n['cloudScopeId'] ? [n['cloudScopeId'] as string] : [],
      })),
    arguments: {
      '(none)': { value: () => null, target: (s) => s.delivery },
      'filter.destinationId': { value: (s) => ({ destinationId: s.destination }), target: (s) => s.delivery },
      'filter.status': { value: () => ({ status: 'QUEUED' }), target: (s) => s.delivery },
      'filter.kind': { value: () => ({ kind: 'BLOCK_DENIAL' }), target: (s) => s.delivery },
      'filter.clusterId': { value: (s) => ({ clusterId: s.cluster }), target: (s) => s.delivery },
      'filter.since': { value: (s) => ({ since: s.alertAt.toISOString() }), target: (s) => s.delivery },
    },
  },
  scanUploadTokens: {
    access: 'tenantManage',
    scoping: 'tenant',
    query: 'query($v: Boolean) { r: scanUploadTokens(first: 100, includeRevoked: $v) { edges { node { id } } } }',
    rows: (d) => edges(d['r']).map((n) => ({ id: n['id'] as string, scopes: [] })),
    arguments: {
      includeRevoked: { value: () => true, target: (s) => s.revokedToken },
    },
  },
  runningWorkloads: {
    access: 'read',
    scoping: 'scoped',
    query:
      'query($v: RunningWorkloadFilter) { r: runningWorkloads(first: 100, filter: $v) { edges { node { uid cloudScopeId violations { policy { id } } } } } }',
    rows: (d) => edges(d['r']).map((n) => ({ id: n['uid'] as string, scopes: [n['cloudScopeId'] as string] })),
    arguments: {
      '(none)': { value: () => null, target: (s) => s.runningUid },
      'filter.cloudScopeId': {
        value: (s) => ({ cloudScopeId: s.scope }),
        target: (s) => s.runningUid,
        scopeFilter: true,
      },
      'filter.clusterId': { value: (s) => ({ clusterId: s.cluster }), target: (s) => s.runningUid },
      'filter.namespace': { value: (s) => ({ namespace: s.clusterName }), target: (s) => s.runningUid },
      'filter.kind': { value: () => ({ kind: 'Deployment' }), target: (s) => s.runningUid },
      'filter.name': { value: (s) => ({ name: s.clusterName }), target: (s) => s.runningUid },
      'filter.policyId': { value: (s) => ({ policyId: s.policy }), target: (s) => s.runningUid },
      'filter.rule': { value: () => ({ rule: 'privileged-container' }), target: (s) => s.runningUid },
      'filter.action': { value: () => ({ action: 'BLOCK' }), target: (s) => s.runningUid },
      'filter.onlyViolating': { value: () => ({ onlyViolating: true }), target: (s) => s.runningUid },
    },
  },
  bundleRollout: {
    access: 'read',
    scoping: 'scoped',
    query:
      'query($v: ID, $c: ID, $b: Boolean) { r: bundleRollout(first: 100, policyId: $v, clusterId: $c, onlyBehind: $b) { clusters { cluster { id cloudScope { id } } } } }',
    rows: (d) =>
      (d['r'] as { clusters: Array<{ cluster: { id: string; cloudScope: { id: string } } }> }).clusters.map((c) => ({
        id: c.cluster.id,
        scopes: [c.cluster.cloudScope.id],
      })),
    arguments: {
      policyId: { value: (s) => ({ v: s.policy }), target: (s) => s.cluster, lookup: (s) => s.policy },
      clusterId: { value: (s) => ({ c: s.cluster }), target: (s) => s.cluster, lookup: (s) => s.cluster },
      onlyBehind: { value: (s) => ({ c: s.cluster, b: false }), target: (s) => s.cluster, lookup: (s) => s.cluster },
    },
  },
  effectivePolicies: {
    access: 'read',
    scoping: 'policy',
    query: `query($c: ID!, $n: String!) { r: effectivePolicies(clusterId: $c, namespace: $n) { policy { ${POLICY_FIELDS} } } }`,
    rows: (d) => (d['r'] as Array<{ policy: Record<string, unknown> }>).map((e) => policyRow(e.policy)),
    arguments: {
      clusterId: { value: (s) => ({ c: s.cluster, n: 'default' }), target: (s) => s.policy, lookup: (s) => s.cluster },
      namespace: {
        value: (s) => ({ c: s.cluster, n: s.clusterName }),
        target: (s) => s.policy,
        lookup: (s) => s.cluster,
      },
    },
  },
};

/**
 * The entries in three spec files (authorization-matrix-lists-<n>.spec.ts), each with its own
 * API and seed, so that each stays well inside the runner's per-file timeout on a loaded machine.
 */
export const LIST_PARTS: readonly (readonly string[])[] = [
  ['clusters', 'roleAssignments', 'cloudScopes', 'policies'],
  ['admissionEvents', 'bundleRollout', 'effectivePolicies'],
  ['auditLog', 'scanArtifacts', 'scanUploadTokens', 'alertDestinations', 'alertDeliveries', 'alertRules'],
  ['runningWorkloads'],
];

/** Every argument of the part's list queries x every principal, against a fresh seed. */
export function describeListPart(part: number): void {
  const names = LIST_PARTS[part]!;
  describe(
    `authorization matrix, list filters: ${names.join(', ')}`,
    { skip: testDatabaseConfigured ? false : NO_DB_REASON },
    () => {
      let f: VisibilityFixture;
      before(async () => {
        f = await seedVisibility(await startApi());
      });
      after(async () => {
        await f?.h.close();
      });
      for (const query of names) {
        for (const argument of Object.keys(LIST_ENTRIES[query]!.arguments)) {
          for (const who of EVERYONE)
            it(`${query}(${argument}) as ${who}: own data only`, () => checkListArgument(f, query, argument, who));
        }
      }
    },
  );
}

/** `query:argument` for every filter argument of every list query in the committed schema. */
export function schemaListArguments(): string[] {
  const schema = buildSchema(readFileSync(repoPath('apps', 'api', 'schema.gql'), 'utf8'));
  const out: string[] = [];
  for (const field of Object.values(schema.getQueryType()!.getFields())) {
    const named = getNamedType(field.type).name;
    const isList =
      named.endsWith('Connection') || isListType(unwrap(field.type)) || field.args.some((a) => a.name === 'first');
    if (!isList) continue;
    const args = field.args.filter((a) => !PAGING.has(a.name));
    // unfiltered as well, where the filter is an optional input object
    if (args.some((a) => isInputObjectType(getNamedType(a.type)))) out.push(`${field.name}:(none)`);
    for (const a of args) {
      const type = getNamedType(a.type);
      if (isInputObjectType(type))
        for (const f of Object.keys(type.getFields())) out.push(`${field.name}:${a.name}.${f}`);
      else out.push(`${field.name}:${a.name}`);
    }
  }
  return out.sort();
}

function unwrap(t: GraphQLOutputType): GraphQLOutputType {
  return isNonNullType(t) ? t.ofType : t;
}

export function entryArguments(): string[] {
  return Object.entries(LIST_ENTRIES)
    .flatMap(([q, e]) => Object.keys(e.arguments).map((a) => `${q}:${a}`))
    .sort();
}

// ---------------------------------------------------------------- seeding

let seq = 0;
const uniq = (p: string) => `${p}-${process.pid}-${++seq}`;

async function ok<T>(r: Promise<GqlResult<T>>): Promise<T> {
  const res = await r;
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  return res.data as T;
}

export async function seedVisibility(h: ApiHarness): Promise<VisibilityFixture> {
  const a = await h.onboard('visibility A');
  const b = await h.onboard('visibility B');
  const gql = <T>(token: string, q: string, v?: Record<string, unknown>) => ok<T>(h.gql<T>(token, q, v));
  const newScope = async (token: string, provider: string, externalId: string) =>
    (
      await gql<{ createCloudScope: { id: string } }>(
        token,
        'mutation($i: CreateCloudScopeInput!) { createCloudScope(input: $i) { id } }',
        { i: { provider, externalId, displayName: externalId } },
      )
    ).createCloudScope.id;
  const aws = String(100000000000 + Math.floor(Math.random() * 899999999999)).slice(0, 12);
  const azure = randomUUID();
  const gcp = `vis-${randomBytes(4).toString('hex')}`;
  const scopes: Record<
    Place,
    { token: string; id: string; ext: string; ownerId: string; provider: string; tenantId: string }
  > = {
    S1: {
      tenantId: a.tenantId,
      token: a.ownerToken,
      id: await newScope(a.ownerToken, 'AWS_ACCOUNT', aws),
      ext: aws,
      ownerId: a.ownerId,
      provider: 'AWS_ACCOUNT',
    },
    S2: {
      tenantId: a.tenantId,
      token: a.ownerToken,
      id: await newScope(a.ownerToken, 'AZURE_SUBSCRIPTION', azure),
      ext: azure,
      ownerId: a.ownerId,
      provider: 'AZURE_SUBSCRIPTION',
    },
    B: {
      tenantId: b.tenantId,
      token: b.ownerToken,
      id: await newScope(b.ownerToken, 'GCP_PROJECT', gcp),
      ext: gcp,
      ownerId: b.ownerId,
      provider: 'GCP_PROJECT',
    },
  };

  const people: Partial<Record<Who, string>> = { ownerT: a.ownerToken, otherTenant: b.ownerToken };
  const grants: Array<[Who, string, string | null]> = [
    ['adminT', 'SECURITY_ADMIN', null],
    ['readerT', 'SECURITY_READER', null],
    ['ownerS1', 'OWNER', scopes.S1.id],
    ['adminS1', 'SECURITY_ADMIN', scopes.S1.id],
    ['readerS1', 'SECURITY_READER', scopes.S1.id],
  ];
  for (const [who, role, cloudScopeId] of grants) {
    const oid = randomUUID();
    await gql(a.ownerToken, 'mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }', {
      i: { principalId: oid, role, cloudScopeId },
    });
    people[who] = await h.token(a.tenantId, oid, who);
  }
  people.noRole = await h.token(a.tenantId, randomUUID(), 'nobody');

  const seeds = {} as Record<Place, Seed>;
  const agentTokens = {} as Record<Place, string>;
  const now = Date.now();
  for (const [i, place] of PLACES.entries()) {
    const { token, id: scope, ext, ownerId, provider, tenantId } = scopes[place];
    const clusterName = uniq(`vis-${place.toLowerCase()}`);
    const regFrom = new Date(Date.now() - 1000);
    const reg = (
      await gql<{ registerCluster: { cluster: { id: string }; agentToken: string } }>(
        token,
        'mutation($i: RegisterClusterInput!) { registerCluster(input: $i) { cluster { id } agentToken } }',
        { i: { cloudScopeId: scope, name: clusterName, distribution: 'EKS' } },
      )
    ).registerCluster;
    const regTo = new Date(Date.now() + 1000);
    agentTokens[place] = reg.agentToken;
    const policyName = uniq(`vis-policy-${place}`);
    const policy = (
      await gql<{ createPolicy: { id: string } }>(
        token,
        'mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }',
        {
          i: {
            name: policyName,
            type: 'MISCONFIGURATION',
            action: 'BLOCK',
            scope: { cloudScopeIds: [scope] },
            rules: [{ ruleId: 'privileged-container', enabled: true }],
          },
        },
      )
    ).createPolicy.id;
    const grantPrincipal = randomUUID();
    const grant = (
      await gql<{ assignRole: { id: string } }>(
        token,
        'mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }',
        { i: { principalId: grantPrincipal, role: 'SECURITY_READER', cloudScopeId: scope } },
      )
    ).assignRole.id;
    // one event per place, each its own hour, namespace, image and workload
    const eventAt = new Date(now - (3 - i) * 3_600_000);
    const event = admission({
      occurredAt: eventAt.toISOString(),
      namespace: clusterName,
      owner: { kind: 'Deployment', name: clusterName },
      images: [`registry.example.com/vis/${clusterName}:1`],
      decision: 'AUDITED',
      findings: [finding(policy, 'privileged-container')],
    });
    const sent = await upload(h, reg.agentToken, [event]);
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    const runningUid = await runningWorkload(h, reg.agentToken, clusterName, policy);
    const entry = (
      await gql<{ auditLog: { edges: Array<{ node: { id: string } }> } }>(
        token,
        'query($t: String!) { auditLog(first: 1, filter: { targetId: $t, action: "cluster.register" }) { edges { node { id } } } }',
        { t: reg.cluster.id },
      )
    ).auditLog.edges[0]!.node.id;
    const artifact = await newArtifact(h, token, place);
    const revoked = (
      await gql<{ createScanUploadToken: { scanUploadToken: { id: string } } }>(
        token,
        'mutation { createScanUploadToken(name: "revoked") { scanUploadToken { id } } }',
      )
    ).createScanUploadToken.scanUploadToken.id;
    await gql(token, 'mutation($id: ID!) { revokeScanUploadToken(id: $id) { id } }', { id: revoked });
    // an alert rule per place, each of its own kind within the tenant (rules are tenant-level)
    const alertRuleKind = place === 'S2' ? 'BUNDLE_BEHIND' : 'AGENT_SILENT';
    const delivery = await newAlertDelivery(h, token, tenantId, scope, reg.cluster.id, clusterName);
    const alertRule = (
      await gql<{ createAlertRule: { id: string } }>(
        token,
        'mutation($i: CreateAlertRuleInput!) { createAlertRule(input: $i) { id } }',
        {
          i: {
            name: uniq(`vis-rule-${place}`),
            kind: alertRuleKind,
            thresholdMinutes: 10,
            destinationIds: [delivery.destination],
          },
        },
      )
    ).createAlertRule.id;
    seeds[place] = {
      scope,
      provider,
      scopeExternalId: ext,
      cluster: reg.cluster.id,
      clusterName,
      policy,
      policyName,
      grant,
      grantPrincipal,
      event: (event as { eventId: string }).eventId,
      eventAt,
      registeredAt: { from: regFrom, to: regTo },
      ownerId,
      auditEntry: entry,
      ...artifact,
      revokedToken: revoked,
      runningUid,
      alertRule,
      alertRuleKind,
      ...delivery,
    };
  }
  const spanning = (
    await gql<{ createPolicy: { id: string } }>(
      a.ownerToken,
      'mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }',
      {
        i: {
          name: uniq('vis-spanning'),
          type: 'MISCONFIGURATION',
          action: 'AUDIT',
          scope: { cloudScopeIds: [scopes.S1.id, scopes.S2.id] },
        },
      },
    )
  ).createPolicy.id;
  // its outcome recorded in both scopes: what each reader is shown of it depends on the scopes it reads
  for (const place of ['S1', 'S2'] as const) {
    const snapshot = podSnapshot('spanning', 'spanning', {
      spec: {
        containers: [{ name: 'app', image: 'registry.example.com/app:1.0', securityContext: { privileged: true } }],
      },
    });
    const sent = await upload(h, agentTokens[place], [
      admission({
        namespace: 'spanning',
        owner: { kind: 'Deployment', name: 'spanning' },
        decision: 'AUDITED',
        findings: [finding(spanning, 'privileged-container')],
        snapshot,
      }),
    ]);
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
  }

  // every row of every list, as each tenant's Owner sees it unfiltered (the rollout lists clusters
  // and effectivePolicies policies: their rows are among those)
  const rows = new Map<string, RowMeta>();
  for (const [tenant, token] of [
    ['A', a.ownerToken],
    ['B', b.ownerToken],
  ] as const) {
    for (const [name, entry] of Object.entries(LIST_ENTRIES)) {
      const listsAll = name === 'scanUploadTokens' || name === 'alertDestinations';
      // alertRules without a kind lists every rule
      if (!('(none)' in entry.arguments) && !listsAll && name !== 'alertRules') continue;
      const data = await gql<Record<string, unknown>>(token, entry.query, { v: listsAll ? true : null });
      for (const row of entry.rows(data)) rows.set(row.id, { tenant, scopes: row.scopes });
    }
  }
  return {
    h,
    tokens: people as Record<Who, string>,
    ownerA: a.ownerToken,
    ownerB: b.ownerToken,
    seeds,
    rows,
    spanning,
  };
}

/** One running Deployment violating `policy` (BLOCK), reported by the cluster's agent; its uid. */
async function runningWorkload(h: ApiHarness, agentToken: string, name: string, policy: string): Promise<string> {
  const uid = randomUUID();
  const snapshot = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: name, uid },
    spec: { template: { spec: { containers: [{ name: 'app', image: 'registry.example.com/app:1.0' }] } } },
  };
  const res = await h
    .http()
    .post('/agent/v1/workload-reports')
    .set('Authorization', `Bearer ${agentToken}`)
    .set('Content-Type', 'application/json')
    .send(
      JSON.stringify({
        reportId: randomUUID(),
        mode: 'FULL',
        sync: { id: randomUUID(), page: 1, last: true },
        bundleRevision: 1,
        observedAt: new Date().toISOString(),
        workloads: [
          {
            kind: 'Deployment',
            apiVersion: 'apps/v1',
            namespace: name,
            name,
            uid,
            pods: 1,
            images: ['registry.example.com/app:1.0'],
            snapshotHash: prepareSnapshot(snapshot).hash,
            snapshot,
            violations: [
              {
                policyId: policy,
                rule: 'privileged-container',
                action: 'BLOCK',
                message: 'privileged',
                exempted: false,
              },
            ],
          },
        ],
      }),
    );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return uid;
}

/** A deleted destination, a live one, and a BLOCK_DENIAL alert of the place's scope and cluster queued to it. */
async function newAlertDelivery(
  h: ApiHarness,
  owner: string,
  tenantId: string,
  scope: string,
  cluster: string,
  clusterName: string,
): Promise<Pick<Seed, 'deletedDestination' | 'destination' | 'delivery' | 'alertAt'>> {
  const create = async (name: string) =>
    (
      await ok<{ createAlertDestination: { destination: { id: string } } }>(
        h.gql(
          owner,
          'mutation($i: CreateAlertDestinationInput!) { createAlertDestination(input: $i) { destination { id } } }',
          {
            // a public address literal: saved without a DNS lookup, never sent to (no worker runs here)
            i: { name, kind: 'WEBHOOK', url: 'https://93.184.215.14/portcullis' },
          },
        ),
      )
    ).createAlertDestination.destination.id;
  const deletedDestination = await create(uniq('vis-deleted'));
  await ok(h.gql(owner, 'mutation($id: ID!) { deleteAlertDestination(id: $id) { id } }', { id: deletedDestination }));
  const destination = await create(uniq('vis-destination'));
  const alertAt = new Date();
  const alertId = randomUUID();
  await withTenant(h.prisma, tenantId, (tx) =>
    persistAlert(
      { tx },
      {
        id: alertId,
        tenantId,
        ruleId: null,
        ruleName: null,
        kind: 'BLOCK_DENIAL',
        severity: 'HIGH',
        title: `denied in ${clusterName}`,
        summary: 'seeded for the visibility matrix',
        occurredAt: alertAt.toISOString(),
        count: 1,
        cloudScopeId: scope,
        cluster: { id: cluster, name: clusterName },
      },
      [destination],
    ),
  );
  const row = await h.prisma.alertDelivery.findUniqueOrThrow({
    where: { alertId_destinationId: { alertId, destinationId: destination } },
  });
  return { deletedDestination, destination, delivery: row.id, alertAt: new Date(row.createdAt.getTime() - 1) };
}

async function newArtifact(
  h: ApiHarness,
  owner: string,
  place: Place,
): Promise<Pick<Seed, 'artifact' | 'artifactRepo' | 'artifactTag' | 'artifactDigest'>> {
  const token = (
    await ok<{ createScanUploadToken: { token: string } }>(
      h.gql(owner, 'mutation { createScanUploadToken(name: "visibility") { token } }'),
    )
  ).createScanUploadToken.token;
  const repo = `ghcr.io/vis/${uniq(place.toLowerCase())}`;
  const tag = uniq('t');
  const digest = `sha256:${randomBytes(32).toString('hex')}`;
  const report = {
    SchemaVersion: 2,
    ArtifactType: 'container_image',
    Metadata: { RepoTags: [`${repo}:${tag}`], RepoDigests: [`${repo}@${digest}`] },
    Results: [],
  };
  const res = await h
    .http()
    .post('/api/v1/scan-reports')
    .set('Authorization', `Bearer ${token}`)
    .set('Content-Type', 'application/json')
    .send(JSON.stringify(report));
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return {
    artifact: (res.body as { artifact: { id: string } }).artifact.id,
    artifactRepo: repo,
    artifactTag: tag,
    artifactDigest: digest,
  };
}

// ---------------------------------------------------------------- expectations

function hasAccess(access: Access, who: Who): boolean {
  if (who === 'noRole') return false;
  if (who === 'otherTenant' || who === 'ownerT' || who === 'adminT') return true;
  if (access === 'tenantManage') return false;
  if (access === 'tenantRead') return who === 'readerT';
  return true;
}

function readsPlace(who: Who, place: Place, scoping: Scoping): boolean {
  if (who === 'otherTenant') return place === 'B';
  if (place === 'B' || who === 'noRole') return false;
  if (TENANT_LEVEL.includes(who) || scoping === 'tenant') return true;
  return place === 'S1';
}

/** Whether `who` may read a row; S1 roles read their scope's rows, tenant-level policies, and unscoped rows of their tenant. */
function readsRow(who: Who, meta: RowMeta, scoping: Scoping, s1: string): boolean {
  if (who === 'otherTenant') return meta.tenant === 'B';
  if (meta.tenant === 'B') return false;
  if (TENANT_LEVEL.includes(who) || scoping === 'tenant') return true;
  if (meta.scopes.length === 0) return scoping === 'policy';
  return SCOPE_S1.includes(who) && meta.scopes.includes(s1);
}

function readsScope(who: Who, scope: string, f: VisibilityFixture): boolean {
  if (who === 'otherTenant') return scope === f.seeds.B.scope;
  if (scope === f.seeds.B.scope) return false;
  return TENANT_LEVEL.includes(who) || scope === f.seeds.S1.scope;
}

function variables(value: unknown): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && ('c' in value || 'v' in value))
    return value as Record<string, unknown>;
  return { v: value };
}

/** Runs one query x argument as one principal over the three places and asserts what each returns. */
export async function checkListArgument(
  f: VisibilityFixture,
  query: string,
  argument: string,
  who: Who,
): Promise<void> {
  const entry = LIST_ENTRIES[query]!;
  const arg = entry.arguments[argument]!;
  // the three places are independent reads: asked at once
  await Promise.all(
    PLACES.map(async (place) => {
      const seed = f.seeds[place];
      const res = await f.h.gql(f.tokens[who], entry.query, variables(arg.value(seed)));
      const where = `${query}(${argument}) as ${who} for ${place}`;
      if (!hasAccess(entry.access, who)) {
        assert.ok(res.errors?.length, `${where}: expected a refusal, got ${JSON.stringify(res.data)}`);
        assert.equal(res.errors[0]!.extensions?.code, 'FORBIDDEN', `${where}: ${JSON.stringify(res.errors)}`);
        return;
      }
      const readable = readsPlace(who, place, entry.scoping);
      if (arg.lookup && !readable) {
        // something the caller cannot read answers exactly like an id that does not exist
        const hiddenId = arg.lookup(seed);
        const unknownId = randomUUID();
        const unknown = await f.h.gql(
          f.tokens[who],
          entry.query,
          JSON.parse(
            JSON.stringify(variables(arg.value(seed)))
              .split(hiddenId)
              .join(unknownId),
          ) as Record<string, unknown>,
        );
        assert.equal(res.errors?.[0]?.extensions?.code, 'NOT_FOUND', `${where}: ${JSON.stringify(res)}`);
        assert.equal(
          res.errors[0]!.message.split(hiddenId).join('<id>'),
          unknown.errors?.[0]?.message.split(unknownId).join('<id>'),
          `${where}: hidden and unknown ids answer alike`,
        );
        return;
      }
      assert.equal(res.errors, undefined, `${where}: ${JSON.stringify(res.errors)}`);
      const rows = entry.rows(res.data as Record<string, unknown>);
      for (const row of rows) {
        const meta = f.rows.get(row.id);
        assert.ok(meta, `${where}: returned ${row.id}, which its tenant's Owner does not list`);
        assert.ok(
          readsRow(who, meta, entry.scoping, f.seeds.S1.scope),
          `${where}: returned ${row.id} (${JSON.stringify(meta)}), which ${who} may not read`,
        );
        for (const s of row.scopes)
          assert.ok(readsScope(who, s, f), `${where}: ${row.id} names cloud scope ${s}, which ${who} may not read`);
      }
      const ids = rows.map((r) => r.id);
      assert.equal(
        ids.includes(arg.target(seed)),
        readable,
        `${where}: target ${arg.target(seed)} ${readable ? 'missing' : 'returned'} in ${JSON.stringify(ids)}`,
      );
      if (arg.scopeFilter && !readable)
        assert.deepEqual(ids, [], `${where}: a filter for a scope ${who} cannot read returns nothing`);
    }),
  );
}
