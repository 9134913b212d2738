/**
 * Issue 21, findings 5 and 8: bad input is a 400 naming the field, never a server error,
 * and nothing is written; one policy-name rule for the API and the policy-file reader.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parsePolicyDocuments } from '@portcullis/policy-engine';
import { NO_DB_REASON, startApi, testDatabaseConfigured, type ApiHarness, type GqlResult } from '@portcullis/testing';

interface Answer {
  status: number;
  body: GqlResult;
}

/** The API keeps a name without the spaces around it (U+0020 only: other blanks are refused). */
const storedPolicyName = (name: string) => name.replace(/^ +| +$/g, '');

const deep = (depth: number): unknown => {
  let v: unknown = 'x';
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};

describe('input refusals', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let t: { tenantId: string; ownerToken: string };
  let policyId: string;
  let policyVersion: number;

  const send = async (query: string, variables: Record<string, unknown> = {}): Promise<Answer> => {
    const res = await h
      .http()
      .post('/graphql')
      .set('Content-Type', 'application/json')
      .set('Authorization', `Bearer ${t.ownerToken}`)
      .send({ query, variables });
    return { status: res.status, body: res.body as GqlResult };
  };
  /** What the tenant has written: policies, their parts and the audit log. */
  const written = async () =>
    Promise.all([
      h.prisma.policy.count({ where: { tenantId: t.tenantId } }),
      h.prisma.policyExemption.count({ where: { tenantId: t.tenantId } }),
      h.prisma.auditLogEntry.count({ where: { tenantId: t.tenantId } }),
      h.prisma.cloudScope.count({ where: { tenantId: t.tenantId } }),
      h.prisma.scanUploadToken.count({ where: { tenantId: t.tenantId } }),
    ]);
  const refusedWith400 = async (
    query: string,
    variables: Record<string, unknown>,
    field: string | RegExp,
    message?: RegExp,
  ) => {
    const before = await written();
    const a = await send(query, variables);
    const what = `${query.slice(0, 300)} ${JSON.stringify(variables).slice(0, 200)}: ${JSON.stringify(a.body).slice(0, 400)}`;
    assert.equal(a.status, 400, what);
    assert.equal(a.body.errors?.length, 1, what);
    const e = a.body.errors![0]!;
    assert.equal(e.extensions?.code, 'BAD_USER_INPUT', what);
    if (typeof field === 'string') assert.equal(e.extensions?.field, field, what);
    else assert.match(e.message, field, what);
    if (message) assert.match(e.message, message, what);
    assert.deepEqual(await written(), before, `${what}: something was written`);
  };

  before(async () => {
    h = await startApi();
    t = await h.onboard('input refusals');
    const created = await send(
      'mutation { createPolicy(input: { name: "refusals base", type: MISCONFIGURATION, action: AUDIT }) { id version } }',
    );
    assert.equal(created.body.errors, undefined, JSON.stringify(created.body));
    ({ id: policyId, version: policyVersion } = (
      created.body.data as { createPolicy: { id: string; version: number } }
    ).createPolicy);
  });
  after(async () => h?.close());

  const CREATE = 'mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }';
  const UPDATE = 'mutation($id: ID!, $i: UpdatePolicyInput!) { updatePolicy(id: $id, input: $i) { id } }';
  const EXEMPT = 'mutation($id: ID!, $i: ExemptionInput!) { addPolicyExemption(id: $id, input: $i) { id } }';
  const policy = (over: Record<string, unknown> = {}) => ({
    name: 'fine name',
    type: 'MISCONFIGURATION',
    action: 'AUDIT',
    ...over,
  });
  const NUL = 'a\u0000b';

  it('NUL in any string input (filters, names, descriptions, reasons, rule parameters) is a 400 naming the field', async () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['query($f: PolicyFilter) { policies(filter: $f) { totalCount } }', { f: { name: NUL } }, 'filter.name'],
      [
        'query($f: CloudScopeFilter) { cloudScopes(filter: $f) { totalCount } }',
        { f: { search: NUL } },
        'filter.search',
      ],
      ['query($f: ClusterFilter) { clusters(filter: $f) { totalCount } }', { f: { search: NUL } }, 'filter.search'],
      ['query($f: AuditLogFilter) { auditLog(filter: $f) { totalCount } }', { f: { action: NUL } }, 'filter.action'],
      [
        'query($f: AuditLogFilter) { auditLog(filter: $f) { totalCount } }',
        { f: { targetType: NUL } },
        'filter.targetType',
      ],
      [
        'query($f: AdmissionEventFilter) { admissionEvents(filter: $f) { totalCount } }',
        { f: { namespace: NUL } },
        'filter.namespace',
      ],
      [
        'query($f: AdmissionEventFilter) { admissionEvents(filter: $f) { totalCount } }',
        { f: { workload: NUL } },
        'filter.workload',
      ],
      [
        'query($f: AdmissionEventFilter) { admissionEvents(filter: $f) { totalCount } }',
        { f: { image: NUL } },
        'filter.image',
      ],
      [
        'query($f: ScanArtifactFilter) { scanArtifacts(filter: $f) { totalCount } }',
        { f: { repository: NUL } },
        'filter.repository',
      ],
      [
        'query($n: String!) { effectivePolicies(clusterId: "00000000-0000-4000-8000-000000000000", namespace: $n) { reason } }',
        { n: NUL },
        'namespace',
      ],
      [CREATE, { i: policy({ name: NUL }) }, 'name'],
      [CREATE, { i: policy({ description: NUL }) }, 'description'],
      [CREATE, { i: policy({ presets: [NUL] }) }, 'presets[0]'],
      [
        CREATE,
        { i: policy({ rules: [{ ruleId: 'resource-limits', params: { maxCpuLimit: NUL } }] }) },
        'rules[0].params.maxCpuLimit',
      ],
      [
        CREATE,
        { i: policy({ rules: [{ ruleId: 'trusted-registries', params: { allowedImages: ['ok', NUL] } }] }) },
        'rules[0].params.allowedImages[1]',
      ],
      [CREATE, { i: policy({ scope: { namespaces: { include: [NUL] } } }) }, 'scope.namespaces.include[0]'],
      [UPDATE, { id: policyId, i: { version: 1, description: NUL } }, 'description'],
      [EXEMPT, { id: policyId, i: { namespaces: ['ns'], reason: NUL } }, 'reason'],
      [
        EXEMPT,
        { id: policyId, i: { namespaces: ['ns'], reason: 'r', labelSelector: { app: NUL } } },
        'labelSelector.app',
      ],
      [EXEMPT, { id: policyId, i: { names: [NUL], reason: 'r' } }, 'names[0]'],
      [
        'mutation($i: CreateCloudScopeInput!) { createCloudScope(input: $i) { id } }',
        { i: { provider: 'AWS_ACCOUNT', externalId: '123456789012', displayName: NUL } },
        'displayName',
      ],
      ['mutation($n: String!) { createScanUploadToken(name: $n) { token } }', { n: NUL }, 'name'],
      [
        'mutation($d: String!) { importPolicies(document: $d) { dryRun } }',
        {
          d: `apiVersion: portcullis.dev/v1\nkind: Policy\nmetadata: { name: x }\nspec: { type: MISCONFIGURATION, action: AUDIT, description: "${NUL}" }\n`,
        },
        'document',
      ],
    ];
    for (const [query, variables, field] of cases) await refusedWith400(query, variables, field, /U\+0000/);
  });

  it('rule parameters and label selectors nested 3,000 deep are a 400 naming the field, as variables and as literals', async () => {
    await refusedWith400(
      CREATE,
      { i: policy({ rules: [{ ruleId: 'resource-limits', params: { maxCpuLimit: deep(3000) } }] }) },
      /rules\[0\]\.params.*nested deeper than 16 levels/,
    );
    await refusedWith400(
      EXEMPT,
      { id: policyId, i: { namespaces: ['ns'], reason: 'r', labelSelector: deep(3000) } },
      /labelSelector.*nested deeper than 16 levels/,
    );
    // as a literal in the query text: 100 deep reaches the JSON bound; 3,000 deep is refused earlier, by the
    // parser's token limit (GRAPHQL_MAX_TOKENS), also as a 400 naming the query
    const literal = (depth: number) => `${'{ a: '.repeat(depth)}1${' }'.repeat(depth)}`;
    const exempt = (depth: number) =>
      `mutation { addPolicyExemption(id: "${policyId}", input: { namespaces: ["ns"], reason: "r", labelSelector: ${literal(depth)} }) { id } }`;
    await refusedWith400(exempt(100), {}, /nested deeper than 16 levels/);
    await refusedWith400(exempt(3000), {}, 'query', /more than 2000 tokens/);
    await refusedWith400(
      CREATE,
      {
        i: policy({
          rules: [
            {
              ruleId: 'trusted-registries',
              params: { allowedImages: Array.from({ length: 20_000 }, () => 'registry.example/') },
            },
          ],
        }),
      },
      /rules\[0\]\.params.*larger than 65536 bytes/,
    );
  });

  it('a policy name of spaces, or with control, bidi or zero-width characters, is a 400 naming the name', async () => {
    for (const name of [
      '   ',
      ' ',
      '\t',
      'prod\u0007',
      'prod\u202Eadmin',
      'pro\u200Bd',
      '\u2066prod',
      'prod\uFEFF',
      'prod\u00A0x',
      'pr\u0430d',
    ]) {
      await refusedWith400(CREATE, { i: policy({ name }) }, 'name');
      await refusedWith400(UPDATE, { id: policyId, i: { version: policyVersion, name } }, 'name');
    }
  });

  it('importPolicies with 2,000 tiny documents is a 400 naming the document and its limit, and nothing is written', async () => {
    const tiny = (i: number) =>
      `apiVersion: portcullis.dev/v1\nkind: Policy\nmetadata: { name: tiny ${i} }\nspec: { type: MISCONFIGURATION, action: AUDIT }\n`;
    const document = Array.from({ length: 2000 }, (_, i) => tiny(i)).join('---\n');
    await refusedWith400(
      'mutation($d: String!) { importPolicies(document: $d) { dryRun } }',
      { d: document },
      'document',
      /holds 2000 policy documents; at most 100/,
    );
  });

  it('a complexity refusal and an invalid enum variable are HTTP 400, not 500', async () => {
    const aliases = Array.from(
      { length: 40 },
      (_, i) => `p${i}: policies(first: 100) { edges { node { id rules { ruleId } } } }`,
    ).join(' ');
    await refusedWith400(`{ ${aliases} }`, {}, /complexity/);
    await refusedWith400(
      'query($f: PolicyFilter) { policies(filter: $f) { totalCount } }',
      { f: { type: 'NOT_A_TYPE' } },
      /NOT_A_TYPE/,
    );
    await refusedWith400(CREATE, { i: policy({ action: 'block' }) }, /"block"/);
  });

  it('a DateTime is an RFC 3339 timestamp with a zone: true, a bare year or 31 February are refused', async () => {
    for (const from of [true, 0, '2026', '2026-02-31T00:00:00Z', '2026-01-01T00:00:00']) {
      await refusedWith400(
        'query($f: AuditLogFilter) { auditLog(filter: $f) { totalCount } }',
        { f: { from } },
        /DateTime must be an RFC 3339 timestamp/,
      );
    }
    const fine = await send('query($f: AuditLogFilter) { auditLog(filter: $f) { totalCount } }', {
      f: { from: '2026-01-01T00:30:00+01:00' },
    });
    assert.equal(fine.body.errors, undefined, JSON.stringify(fine.body));
  });

  it('policy names: the API and the policy-file reader refuse the same names, and what the API accepts exports and imports again', async () => {
    const names = [
      'plain',
      'with spaces 2',
      'dots.and_under-scores',
      ' lead',
      'trail ',
      'a',
      '-dash',
      'x'.repeat(200),
      'x'.repeat(201),
      'Default K8s misconfiguration rule',
      'default k8s misconfiguration rule',
      'Default  K8s misconfiguration rule',
      'Default_K8s-misconfiguration.rule',
      'Defau1t K8s misconfiguration rule',
      'Default vulnerability gating ru1e',
      'DEFAULT VULNERABILITY GATING RULE',
      'Default K8s misconfiguration rules',
      'Déjà vu',
      'Default K8s misconfiguration rul\u0435',
      'tab\there',
      'zero\u200Bwidth',
      'bidi\u202Ename',
      'nbsp\u00A0name',
      'bom\uFEFF',
      '\u00A0nbsp',
    ];
    for (const name of names) {
      // the API stores names trimmed, so the reader is asked about the name as it would be exported
      const file = `apiVersion: portcullis.dev/v1\nkind: Policy\nmetadata:\n  name: ${JSON.stringify(storedPolicyName(name))}\nspec: { type: MISCONFIGURATION, action: AUDIT }\n`;
      const readerAccepts = parsePolicyDocuments(file, 'p.yaml').ok;
      const a = await send(CREATE, { i: policy({ name }) });
      const code = a.body.errors?.[0]?.extensions?.code;
      // the exact default name exists already in the tenant: CONFLICT, which is not a refusal of the name
      const apiAccepts = a.body.errors === undefined || code === 'CONFLICT';
      assert.equal(
        apiAccepts,
        readerAccepts,
        `${JSON.stringify(name)}: the API ${apiAccepts ? 'accepts' : 'refuses'} it, the reader ${readerAccepts ? 'accepts' : 'refuses'} it: ${JSON.stringify(a.body)}`,
      );
      if (!apiAccepts) assert.equal(a.body.errors?.[0]?.extensions?.field, 'name', JSON.stringify(a.body));
      if (a.body.errors !== undefined) continue;
      const id = (a.body.data as { createPolicy: { id: string } }).createPolicy.id;
      const exported = await send('query($ids: [ID!]) { exportPolicies(ids: $ids) }', { ids: [id] });
      const yaml = (exported.body.data as { exportPolicies: string }).exportPolicies;
      const back = parsePolicyDocuments(yaml, 'export.yaml');
      assert.ok(back.ok, `${JSON.stringify(name)}: its export does not import: ${JSON.stringify(back)}`);
      assert.equal(back.policies[0]!.name, storedPolicyName(name));
      const again = await send(
        'mutation($d: String!) { importPolicies(document: $d, dryRun: true) { changes { change } } }',
        { d: yaml },
      );
      assert.equal(again.body.errors, undefined, JSON.stringify(again.body));
    }
  });
});
