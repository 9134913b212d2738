/**
 * `npm run bench -- isolation [victimRequests] [floodWorkers]`: does one tenant's flood of the
 * most expensive queries slow another tenant down?
 *
 * Two tenants in a fresh database; the flooder holds 100 policies (every catalog rule of the
 * pss-restricted preset), so a whole-tenant `exportPolicies` reads and renders all of them.
 * The API runs in a process of its own (`main.js`, as `npm start` starts it, default limits),
 * on loopback; this process only sends requests, so the load generator's own parsing is not
 * counted against the API.
 *
 * Phase "alone": the victim tenant's reader sends `victimRequests` requests one after the other,
 * alternating `policies(first: 5)` and `admissionEvents(first: 20)`. Phase "flood": the same,
 * while `floodWorkers` connections of the flooder's reader send, back to back until the victim
 * is done, operations at the limits: three whole-tenant exports (the most expensive fields one
 * operation may hold), a 90-day simulation with the largest workload list, and 2,000 aliases of
 * exportPolicies (refused up front). Both phases run three uncounted warm-up requests first.
 * Printed: p50/p99 of each phase, `ratio` = flood p99 / alone p99 (goal <= 2), and how the
 * flood's requests were answered (HTTP status and error code), counted.
 */
import { randomUUID } from 'node:crypto';
import { startApi, startApiProcess } from '@portcullis/testing';
import { benchDatabase, percentile } from './support/stack';

const POLICIES = 100;
const DRAFT = '{ type: MISCONFIGURATION, presets: ["pss-restricted"] }';

const FLOOD_OPERATIONS = [
  '{ a: exportPolicies b: exportPolicies c: exportPolicies }',
  `{ simulatePolicy(days: 90, workloadLimit: 2000, draft: ${DRAFT}) { flipCount snapshotsEvaluated report { wouldDenyAdmissions } } }`,
  `{ ${Array.from({ length: 2000 }, (_, i) => `e${i}: exportPolicies`).join(' ')} }`,
];
const VICTIM_OPERATIONS = [
  '{ policies(first: 5) { totalCount edges { node { id name action } } } }',
  '{ admissionEvents(first: 20) { edges { node { eventId decision } } } }',
];

interface Answer {
  status: number;
  code: string;
}

async function post(url: string, token: string, query: string): Promise<Answer> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  const body = (await res.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
  const codes = [...new Set((body.errors ?? []).map((e) => e.extensions?.code ?? 'none'))].sort();
  return { status: res.status, code: codes.join('+') || 'ok' };
}

/** `count` victim requests one after the other; latencies in ms, sorted, and every failed answer. */
async function victim(url: string, token: string, count: number): Promise<{ times: number[]; failures: Answer[] }> {
  const times: number[] = [];
  const failures: Answer[] = [];
  for (let i = -3; i < count; i++) {
    const t0 = process.hrtime.bigint();
    const a = await post(url, token, VICTIM_OPERATIONS[(i + 3) % VICTIM_OPERATIONS.length]!);
    if (i >= 0) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (a.status !== 200 || a.code !== 'ok') failures.push(a);
  }
  return { times: times.sort((x, y) => x - y), failures };
}

const round2 = (n: number) => Math.round(n * 100) / 100;

export async function run(args: readonly string[]): Promise<Record<string, unknown>> {
  const victimRequests = Number(args[0] ?? 200);
  const floodWorkers = Number(args[1] ?? 16);
  const { config, prisma } = await benchDatabase('portcullis_bench_isolation');
  const env = {
    DATABASE_URL: config.databaseUrl,
    REDIS_PREFIX: config.redisPrefix,
    BUNDLE_SIGNING_KEYS_DIR: config.bundles.signingKeysDir,
    LOG_LEVEL: 'error',
  };
  const setup = await startApi(env);
  try {
    const readerOf = async (tenant: { tenantId: string; ownerToken: string }): Promise<string> => {
      const principalId = randomUUID();
      const res = await setup.gql(
        tenant.ownerToken,
        'mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }',
        { i: { principalId, role: 'SECURITY_READER' } },
      );
      if (res.errors) throw new Error(JSON.stringify(res.errors));
      return setup.token(tenant.tenantId, principalId, 'reader');
    };
    const flooderTenant = await setup.onboard('flooder');
    for (let i = 0; i < POLICIES; i++) {
      const res = await setup.gql(
        flooderTenant.ownerToken,
        'mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }',
        {
          i: {
            name: `flood-${i}`,
            type: 'MISCONFIGURATION',
            action: 'AUDIT',
            presets: ['pss-restricted'],
            scope: { namespaces: { include: [`team-${i}-*`], exclude: ['kube-system'] } },
          },
        },
      );
      if (res.errors) throw new Error(JSON.stringify(res.errors));
    }
    const flooder = await readerOf(flooderTenant);
    const victimToken = await readerOf(await setup.onboard('victim'));

    const api = await startApiProcess(setup, env);
    try {
      const exportBytes = (
        await (
          await fetch(`${api.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${flooder}` },
            body: JSON.stringify({ query: '{ exportPolicies }' }),
          })
        ).text()
      ).length;
      const alone = await victim(api.url, victimToken, victimRequests);

      let done = false;
      const outcomes = new Map<string, number>();
      let floodRequests = 0;
      const floodStart = process.hrtime.bigint();
      const workers = Array.from({ length: floodWorkers }, async (_, w) => {
        for (let i = w; !done; i++) {
          const a = await post(api.url, flooder, FLOOD_OPERATIONS[i % FLOOD_OPERATIONS.length]!).catch(
            (err: unknown) => ({ status: 0, code: String(err) }),
          );
          floodRequests++;
          const key = `${a.status} ${a.code}`;
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        }
      });
      // let the flood fill the tenant's share and queue before the victim starts
      await new Promise((r) => setTimeout(r, 1000));
      const flooded = await victim(api.url, victimToken, victimRequests);
      done = true;
      await Promise.all(workers);
      const floodSeconds = Number(process.hrtime.bigint() - floodStart) / 1e9;

      const victimP99Ms = round2(percentile(flooded.times, 99));
      const victimAloneP99Ms = round2(percentile(alone.times, 99));
      return {
        victimP99Ms,
        victimAloneP99Ms,
        ratio: round2(victimP99Ms / victimAloneP99Ms),
        victimP50Ms: round2(percentile(flooded.times, 50)),
        victimAloneP50Ms: round2(percentile(alone.times, 50)),
        victimMaxMs: round2(flooded.times.at(-1) ?? 0),
        victimAloneMaxMs: round2(alone.times.at(-1) ?? 0),
        victimRequests,
        victimFailures: flooded.failures.length + alone.failures.length,
        victimFailureKinds: [...new Set([...alone.failures, ...flooded.failures].map((f) => `${f.status} ${f.code}`))],
        floodWorkers,
        floodRequests,
        floodRequestsPerSecond: round2(floodRequests / floodSeconds),
        floodOutcomes: Object.fromEntries([...outcomes].sort()),
        flooderPolicies: POLICIES,
        exportBytes,
        limits: {
          maxComplexity: config.graphql.maxComplexity,
          maxExpensiveFields: config.graphql.maxExpensiveFields,
          tenantConcurrency: config.database.tenantConcurrency,
          tenantExpensiveConcurrency: config.database.tenantExpensiveConcurrency,
          requestConcurrency: config.database.requestConcurrency,
          tenantQueue: config.database.tenantQueue,
          poolSize: config.database.poolSize,
          sqlPoolSize: config.database.sqlPoolSize,
        },
      };
    } finally {
      await api.stop();
    }
  } finally {
    await setup.close();
    await prisma.$disconnect();
  }
}
