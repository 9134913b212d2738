import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DbGates } from '../../src/platform/tenant-gate';
import { NO_DB_REASON, startApi, testDatabaseConfigured, type ApiHarness } from '@portcullis/testing';

interface Answer {
  status: number;
  headers: Record<string, string | undefined>;
  body: {
    data?: Record<string, unknown> | null;
    errors?: Array<{ message: string; extensions?: { code?: string; field?: string } }>;
  };
}

async function post(h: ApiHarness, token: string, query: string, variables?: Record<string, unknown>): Promise<Answer> {
  const res = await h
    .http()
    .post('/graphql')
    .set('Authorization', `Bearer ${token}`)
    .set('Content-Type', 'application/json')
    .send({ query, variables });
  return { status: res.status, headers: res.headers as Answer['headers'], body: res.body as Answer['body'] };
}

const aliases = (n: number, field: string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;

/** Tenant-bound transactions both gates admitted so far. */
function admitted(h: ApiHarness): number {
  const gates = h.app.get(DbGates);
  return gates.prisma.snapshot().admitted + gates.sql.snapshot().admitted;
}

async function reader(h: ApiHarness, owner: { tenantId: string; ownerToken: string }): Promise<string> {
  const principalId = randomUUID();
  const res = await post(h, owner.ownerToken, 'mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }', {
    i: { principalId, role: 'SECURITY_READER' },
  });
  assert.equal(res.body.errors, undefined, JSON.stringify(res.body));
  return h.token(owner.tenantId, principalId, 'Reader');
}

describe('request cost and tenant isolation', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let flooder: string;
  let victim: string;
  before(async () => {
    h = await startApi();
    flooder = await reader(h, await h.onboard('Flooder'));
    victim = await reader(h, await h.onboard('Victim'));
  });
  after(async () => h?.close());

  it('refuses 2,000 aliases of exportPolicies up front: BAD_USER_INPUT, HTTP 400, no transaction started', async () => {
    const before = admitted(h);
    const res = await post(h, flooder, aliases(2000, 'exportPolicies'));
    assert.equal(res.status, 400);
    assert.equal(res.body.data, undefined);
    assert.equal(res.body.errors?.length, 1);
    assert.equal(res.body.errors[0]!.extensions?.code, 'BAD_USER_INPUT');
    // refused by the parser (6,000 tokens, the limit is 2,000) before validation spends CPU on it
    assert.match(res.body.errors[0]!.message, /more than 2000 tokens/);
    assert.equal(admitted(h), before, 'the refused operation opened no tenant transaction');
  });

  it('refuses 400 aliases of exportPolicies (within the token limit) by the expensive-field cap, no transaction started', async () => {
    const before = admitted(h);
    const res = await post(h, flooder, aliases(400, 'exportPolicies'));
    assert.equal(res.status, 400);
    assert.equal(res.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.match(
      res.body.errors?.[0]?.message ?? '',
      /400 expensive fields \(exportPolicies\); the limit is 3 per request/,
    );
    assert.equal(admitted(h), before);
  });

  it('runs three expensive root fields in one operation and refuses a fourth, aliases counted', async () => {
    const ok = await post(h, flooder, aliases(3, 'exportPolicies'));
    assert.equal(ok.status, 200);
    assert.equal(ok.body.errors, undefined);
    assert.match(String(ok.body.data?.['a2']), /kind: Policy/);
    const refused = await post(
      h,
      flooder,
      '{ a: exportPolicies ...more } fragment more on Query { b: exportPolicies c: effectivePolicies(clusterId: "00000000-0000-0000-0000-000000000000", namespace: "x") { enforced } d: admissionSummary(groupBy: [DAY]) { totalAdmissions } }',
    );
    assert.equal(refused.status, 400);
    assert.equal(refused.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.match(
      refused.body.errors?.[0]?.message ?? '',
      /4 expensive fields \(exportPolicies, effectivePolicies, admissionSummary\)/,
    );
  });

  it('prices a simulation by its window: the longest window with the largest workload list fits one request', async () => {
    const draft = '{ type: MISCONFIGURATION, rules: [{ ruleId: "resource-limits" }] }';
    const widest = await post(
      h,
      flooder,
      `{ simulatePolicy(days: 90, workloadLimit: 2000, draft: ${draft}) { flipCount } }`,
    );
    assert.notEqual(widest.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', JSON.stringify(widest.body));
    const two = await post(
      h,
      flooder,
      `{ a: simulatePolicy(days: 90, workloadLimit: 2000, draft: ${draft}) { flipCount } b: simulatePolicy(days: 90, workloadLimit: 2000, draft: ${draft}) { flipCount } }`,
    );
    assert.equal(two.status, 400);
    assert.match(two.body.errors?.[0]?.message ?? '', /operation complexity \d+ exceeds the limit of 2000/);
  });

  it('answers a complexity refusal with HTTP 400 and BAD_USER_INPUT', async () => {
    const page =
      'policies(first: 100) { edges { node { rules { ruleId params } scope { clusters { id name cloudScope { id displayName } } } } } }';
    const res = await post(h, flooder, `{ a: ${page} b: ${page} }`);
    assert.equal(res.status, 400);
    assert.equal(res.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.match(res.body.errors?.[0]?.message ?? '', /complexity \d+ exceeds the limit of 2000/);
  });

  it('answers an invalid enum variable with HTTP 400 and BAD_USER_INPUT naming the value', async () => {
    const res = await post(h, flooder, 'query($a: PolicyAction) { policies(filter: { action: $a }) { totalCount } }', {
      a: 'SOMETIMES',
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.errors?.length, 1);
    assert.equal(res.body.errors[0]!.extensions?.code, 'BAD_USER_INPUT');
    assert.match(res.body.errors[0]!.message, /\$a.*SOMETIMES/);
  });

  it("one tenant's flood of exports does not make another tenant's requests fail", async () => {
    // the flood: oversized operations (refused up front) and many at the expensive-field limit (gated)
    const flood = [
      ...Array.from({ length: 3 }, () => post(h, flooder, aliases(2000, 'exportPolicies'))),
      ...Array.from({ length: 40 }, () => post(h, flooder, aliases(3, 'exportPolicies'))),
    ];
    const victimAnswers: Answer[] = [];
    for (let round = 0; round < 10; round++) {
      victimAnswers.push(
        ...(await Promise.all([
          post(h, victim, '{ policies(first: 5) { totalCount edges { node { id name } } } }'),
          post(h, victim, '{ admissionEvents(first: 20) { edges { node { eventId } } } }'),
        ])),
      );
    }
    const floodAnswers = await Promise.all(flood);
    const failedVictims = victimAnswers.filter((a) => a.status !== 200 || a.body.errors !== undefined);
    assert.deepEqual(failedVictims, [], 'every request of the other tenant succeeded');
    const outcomes = new Map<string, number>();
    for (const a of floodAnswers) {
      const codes = [...new Set((a.body.errors ?? []).map((e) => e.extensions?.code))].join('+') || 'ok';
      const key = `${a.status} ${codes}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    for (const key of outcomes.keys())
      assert.match(
        key,
        /^(200 ok|400 BAD_USER_INPUT|429 RATE_LIMITED)$/,
        `flood outcomes: ${JSON.stringify([...outcomes])}`,
      );
    assert.equal(outcomes.get('400 BAD_USER_INPUT'), 3);
  });
});

describe('tenant share exhausted', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let token: string;
  before(async () => {
    // one transaction at a time per tenant and request, none waiting: the second field of a request is refused
    h = await startApi({ DB_TENANT_CONCURRENCY: '1', DB_REQUEST_CONCURRENCY: '1', DB_TENANT_QUEUE: '0' });
    token = await reader(h, await h.onboard('Narrow'));
  });
  after(async () => h?.close());

  it('answers the fields beyond the share with RATE_LIMITED and HTTP 429, not 500', async () => {
    const res = await post(h, token, aliases(3, 'exportPolicies'));
    assert.equal(res.status, 429, JSON.stringify(res.body));
    assert.equal(res.headers['retry-after'], '1', 'a 429 says when to retry');
    const codes = (res.body.errors ?? []).map((e) => e.extensions?.code);
    assert.ok(
      codes.length >= 1 && codes.length < 3,
      `some fields refused, not all: ${JSON.stringify(res.body.errors)}`,
    );
    assert.ok(codes.every((c) => c === 'RATE_LIMITED'));
    assert.match(res.body.errors![0]!.message, /retry later/);
  });
});
