/**
 * Schema-driven fuzzing (STYLE.md 17): every argument and input field of every query and
 * mutation in the committed schema.gql gets every class of bad value its type admits,
 * sent as the tenant's OWNER through the real app and PostgreSQL. The answer is never a
 * server error, a refusal is HTTP 400 naming what is wrong, and a refused mutation
 * writes nothing (the tenant's rows, audit log included, are compared before and after).
 * Queries and mutations are two spec files, so each runs in its own process and time.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { buildSchema, getNamedType, isLeafType, type GraphQLField } from 'graphql';
import { SCHEMA_FILE } from '../../src/graphql/graphql.options';
import { NO_DB_REASON, startApi, testDatabaseConfigured, type ApiHarness, type GqlResult } from '@portcullis/testing';
import { ALWAYS_REFUSED, badValues, inputPositions, seeded, withValueAt } from './bad-values';

const SEED = 0x5eed_2026;
/** Root fields with arguments, from the committed schema: what the portal can send. */
const SCHEMA = buildSchema(fs.readFileSync(SCHEMA_FILE, 'utf8'));
const ROOT_FIELDS: Array<['query' | 'mutation', GraphQLField<unknown, unknown>]> = [
  ...Object.values(SCHEMA.getQueryType()!.getFields()).map(
    (f) => ['query', f] as ['query', GraphQLField<unknown, unknown>],
  ),
  ...Object.values(SCHEMA.getMutationType()!.getFields()).map(
    (f) => ['mutation', f] as ['mutation', GraphQLField<unknown, unknown>],
  ),
].filter(([, f]) => f.args.length > 0);

/** Policy names refuse every planted character, bidi and zero-width ones included (finding 8). */
const NAMES = new Set(['createPolicy(input.name)', 'updatePolicy(input.name)']);

interface Answer {
  status: number;
  body: GqlResult;
}

export function describeSchemaFuzz(only: 'query' | 'mutation'): void {
  describe(
    `schema-driven input fuzzing: ${only === 'query' ? 'queries' : 'mutations'}`,
    { skip: testDatabaseConfigured ? false : NO_DB_REASON },
    () => {
      let h: ApiHarness;
      let t: { tenantId: string; ownerId: string; ownerToken: string };
      let tables: string[];
      const ids: Record<string, string> = {};

      const send = async (query: string, variables: Record<string, unknown>): Promise<Answer> => {
        const res = await h
          .http()
          .post('/graphql')
          .set('Content-Type', 'application/json')
          .set('Authorization', `Bearer ${t.ownerToken}`)
          .send({ query, variables });
        return { status: res.status, body: res.body as GqlResult };
      };
      const ok = async <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => {
        const a = await send(query, variables);
        assert.equal(a.body.errors, undefined, JSON.stringify(a.body.errors));
        return a.body.data as T;
      };

      /** Everything of the tenant, one digest per table: any insert, update or delete changes it. */
      const fingerprint = async (): Promise<string> => {
        const parts = tables.map(
          (tbl) =>
            `SELECT '${tbl}' AS t, count(*)::int AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS d FROM "${tbl}" x WHERE x.tenant_id = $1::uuid`,
        );
        parts.push(
          `SELECT 'tenants', count(*)::int, md5(coalesce(string_agg(x::text, '|'), '')) FROM tenants x WHERE x.id = $1::uuid`,
        );
        const rows = await h.prisma.$queryRawUnsafe<Array<{ t: string; n: number; d: string }>>(
          parts.join(' UNION ALL '),
          t.tenantId,
        );
        return rows
          .map((r) => `${r.t}:${r.n}:${r.d}`)
          .sort()
          .join('\n');
      };

      before(async () => {
        h = await startApi();
        t = await h.onboard('fuzz');
        tables = (
          await h.prisma.$queryRawUnsafe<Array<{ table_name: string }>>(
            `SELECT c.table_name FROM information_schema.columns c JOIN pg_class k ON k.relname = c.table_name AND k.relnamespace = 'public'::regnamespace
          WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND NOT k.relispartition ORDER BY 1`,
          )
        ).map((r) => r.table_name);
        const policies = await ok<{ policies: { edges: Array<{ node: { id: string; type: string } }> } }>(
          '{ policies { edges { node { id type } } } }',
        );
        ids['policy'] = policies.policies.edges.find((e) => e.node.type === 'MISCONFIGURATION')!.node.id;
        ids['scope'] = (
          await ok<{ createCloudScope: { id: string } }>(
            'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "123456789012", displayName: "fuzz" }) { id } }',
          )
        ).createCloudScope.id;
        ids['cluster'] = (
          await ok<{ registerCluster: { cluster: { id: string } } }>(
            `mutation { registerCluster(input: { cloudScopeId: "${ids['scope']}", name: "fuzz", distribution: AKS }) { cluster { id } } }`,
          )
        ).registerCluster.cluster.id;
        const own = await ok<{ createPolicy: { id: string } }>(
          'mutation { createPolicy(input: { name: "fuzz own", type: MISCONFIGURATION, action: AUDIT }) { id } }',
        );
        ids['ownPolicy'] = own.createPolicy.id;
        const withExemption = await ok<{ addPolicyExemption: { exemptions: Array<{ id: string }> } }>(
          `mutation { addPolicyExemption(id: "${ids['ownPolicy']}", input: { namespaces: ["ns"], reason: "fuzz" }) { exemptions { id } } }`,
        );
        ids['exemption'] = withExemption.addPolicyExemption.exemptions[0]!.id;
        ids['role'] = (
          await ok<{ assignRole: { id: string } }>(
            `mutation { assignRole(input: { principalId: "${randomUUID()}", role: SECURITY_READER }) { id } }`,
          )
        ).assignRole.id;
        ids['uploadToken'] = (
          await ok<{ createScanUploadToken: { scanUploadToken: { id: string } } }>(
            'mutation { createScanUploadToken(name: "fuzz") { scanUploadToken { id } } }',
          )
        ).createScanUploadToken.scanUploadToken.id;
        ids['destination'] = (
          await ok<{ createAlertDestination: { destination: { id: string } } }>(
            'mutation { createAlertDestination(input: { name: "fuzz", kind: WEBHOOK, url: "https://93.184.215.14/fuzz" }) { destination { id } } }',
          )
        ).createAlertDestination.destination.id;
        ids['ruleDestination'] = (
          await ok<{ createAlertDestination: { destination: { id: string } } }>(
            'mutation { createAlertDestination(input: { name: "fuzz rules", kind: WEBHOOK, url: "https://93.184.215.14/rules" }) { destination { id } } }',
          )
        ).createAlertDestination.destination.id;
        ids['alertRule'] = (
          await ok<{ createAlertRule: { id: string } }>(
            'mutation($d: ID!) { createAlertRule(input: { name: "fuzz rule", kind: BLOCK_DENIAL, destinationIds: [$d] }) { id } }',
            { d: ids['ruleDestination'] },
          )
        ).createAlertRule.id;
      });
      after(async () => h?.close());

      const policyVersion = async (id: string) =>
        (await ok<{ policy: { version: number } }>('query($id: ID!) { policy(id: $id) { version } }', { id })).policy
          .version;

      /** Arguments that pass on their own, so a bad value in one position is what gets refused. */
      const validArgs: Record<string, () => Promise<Record<string, unknown>> | Record<string, unknown>> = {
        admissionSummary: () => ({ groupBy: ['DAY'] }),
        auditToDenyReport: () => ({ policyId: ids['policy'] }),
        bundleRollout: () => ({ policyId: ids['policy'] }),
        effectivePolicies: () => ({ clusterId: ids['cluster'], namespace: 'default' }),
        policy: () => ({ id: ids['policy'] }),
        simulatePolicy: () => ({ draft: { type: 'MISCONFIGURATION' } }),
        addPolicyExemption: () => ({ id: ids['ownPolicy'], input: { reason: 'fuzz', namespaces: ['ns'] } }),
        assignRole: () => ({ input: { principalId: randomUUID(), role: 'SECURITY_READER' } }),
        createCloudScope: () => ({
          input: { provider: 'AWS_ACCOUNT', externalId: '210987654321', displayName: 'fuzz 2' },
        }),
        createPolicy: () => ({
          input: {
            name: 'fuzz created',
            type: 'MISCONFIGURATION',
            action: 'AUDIT',
            rules: [{ ruleId: 'resource-limits', params: { maxCpuLimit: '2' } }],
          },
        }),
        createScanUploadToken: () => ({ name: 'fuzz 2' }),
        createAlertDestination: () => ({
          input: {
            name: 'fuzz 2',
            kind: 'SIEM',
            url: 'https://93.184.215.14/siem',
            tokenHeader: 'Authorization',
            token: 'Bearer x',
          },
        }),
        updateAlertDestination: () => ({ id: ids['destination'], input: { name: 'fuzz renamed' } }),
        rotateAlertDestinationSecret: () => ({ id: ids['destination'], overlapHours: 1 }),
        deleteAlertDestination: () => ({ id: ids['destination'] }),
        sendTestAlert: () => ({ destinationId: ids['destination'] }),
        alertDeliveries: () => ({ filter: { status: 'DEAD' } }),
        createAlertRule: () => ({
          input: { name: 'fuzz rule 2', kind: 'BLOCK_DENIAL', destinationIds: [ids['ruleDestination']] },
        }),
        updateAlertRule: () => ({ id: ids['alertRule'], input: { name: 'fuzz rule renamed' } }),
        deleteAlertRule: () => ({ id: ids['alertRule'] }),
        deleteCloudScope: () => ({ id: ids['scope'] }),
        deleteCluster: () => ({ id: ids['cluster'] }),
        deletePolicy: () => ({ id: ids['ownPolicy'] }),
        importPolicies: () => ({
          document:
            'apiVersion: portcullis.dev/v1\nkind: Policy\nmetadata: { name: fuzz imported }\nspec: { type: MISCONFIGURATION, action: AUDIT }\n',
          dryRun: false,
        }),
        registerCluster: () => ({ input: { cloudScopeId: ids['scope'], distribution: 'AKS', name: 'fuzz-2' } }),
        removePolicyExemption: () => ({ policyId: ids['ownPolicy'], exemptionId: ids['exemption'] }),
        revokeRole: () => ({ id: ids['role'] }),
        revokeScanUploadToken: () => ({ id: ids['uploadToken'] }),
        rotateClusterToken: () => ({ id: ids['cluster'] }),
        setClusterEnforcementMode: () => ({ id: ids['cluster'], mode: 'NATIVE' }),
        setAdmissionRetention: () => ({ days: 30 }),
        setScanArtifactHistory: () => ({ days: 30 }),
        updateCloudScope: () => ({ id: ids['scope'], input: { displayName: 'fuzz' } }),
        updatePolicy: async () => ({
          id: ids['ownPolicy'],
          input: { version: await policyVersion(ids['ownPolicy']!) },
        }),
      };

      const operation = (
        kind: 'query' | 'mutation',
        field: GraphQLField<unknown, unknown>,
        names: readonly string[],
      ): string => {
        const used = field.args.filter((a) => names.includes(a.name));
        const vars = used.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
        const args = used.map((a) => `${a.name}: $${a.name}`).join(', ');
        const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
        return `${kind} Fuzz${vars ? `(${vars})` : ''} { ${field.name}${args ? `(${args})` : ''}${selection} }`;
      };

      /** Every bad value of every input position of one root field; each field is its own test with its own seed. */
      const fuzz = async (kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): Promise<void> => {
        const random = seeded(SEED ^ [...field.name].reduce((h, c) => Math.imul(h, 31) + c.charCodeAt(0), 7));
        const failures: string[] = [];
        let cases = 0;
        let state = kind === 'mutation' ? await fingerprint() : '';
        for (const position of inputPositions(field)) {
          const where = `${field.name}(${position.path.join('.')})`;
          for (const bad of badValues(position, random)) {
            cases++;
            const base = (await validArgs[field.name]?.()) ?? {};
            const variables = withValueAt(base, position.path, bad.value);
            const answer = await send(operation(kind, field, Object.keys(variables)), variables);
            const errors = answer.body?.errors ?? [];
            const codes = errors.map((e) => e.extensions?.code);
            const refused = errors.length > 0;
            const label = `${where} ${bad.cls}`;
            if (answer.status >= 500 || codes.includes('INTERNAL_SERVER_ERROR'))
              failures.push(`${label}: HTTP ${answer.status} ${JSON.stringify(errors).slice(0, 200)}`);
            else if (refused && codes.every((c) => c === 'BAD_USER_INPUT') && answer.status !== 400)
              failures.push(`${label}: BAD_USER_INPUT answered HTTP ${answer.status}`);
            else if (!refused && (ALWAYS_REFUSED.has(bad.cls) || (NAMES.has(where) && bad.cls !== 'wrong-type')))
              failures.push(`${label}: accepted`);
            else if (
              refused &&
              !errors.every(
                (e) => e.message && (e.extensions?.field || /\$|field|argument|variable|input|query/i.test(e.message)),
              )
            ) {
              failures.push(
                `${label}: the refusal does not name what is wrong: ${JSON.stringify(errors).slice(0, 200)}`,
              );
            }
            if (kind === 'mutation') {
              // one digest per case: the state after this one is the state before the next
              const now = await fingerprint();
              if (refused && now !== state) failures.push(`${label}: refused, but rows of the tenant changed`);
              state = now;
            }
          }
        }
        assert.deepEqual(failures, [], `${failures.length} of ${cases} cases failed:\n${failures.join('\n')}`);
      };

      if (only === 'query')
        it('reaches every argument and input field of the schema, each with at least one class of bad value', () => {
          let cases = 0;
          for (const [, field] of ROOT_FIELDS) {
            const positions = inputPositions(field);
            for (const arg of field.args)
              assert.ok(
                positions.some((p) => p.path.length === 1 && p.path[0] === arg.name),
                `${field.name}(${arg.name}) not reached`,
              );
            for (const position of positions) {
              const n = badValues(position, seeded(SEED)).length;
              assert.ok(n > 0, `${field.name}(${position.path.join('.')}) has no bad value`);
              cases += n;
            }
          }
          assert.ok(cases > 500, `only ${cases} cases`);
        });

      for (const [kind, field] of ROOT_FIELDS.filter(([k]) => k === only)) {
        it(`${kind} ${field.name}: every bad value is a client error, HTTP 400 when BAD_USER_INPUT${kind === 'mutation' ? ', and a refusal writes nothing' : ''}`, () =>
          fuzz(kind, field));
      }
    },
  );
}
