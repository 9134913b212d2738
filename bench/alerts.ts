/**
 * `npm run bench -- alerts [seconds] [eventsPerSecond]`: admission events with 1 % Block
 * denials (each of a distinct workload) uploaded by agents through the real API, matched
 * against a BLOCK_DENIAL rule (digest window 0, so none is folded), evaluated and dispatched
 * by the real worker and delivered by it to a signed-webhook receiver on loopback HTTPS.
 *
 * 1. Ingest rate with and without rules: closed-loop uploads (batches of 500, 4 in flight), in
 *    rounds alternating between a tenant with the rule and one without any, pooled per side.
 * 2. Latency at a steady rate (default 2,000 events/s for 20 s, batches of 100 every 50 ms):
 *    per Block denial, from the API's acknowledgement of its batch to the receiver having it.
 * Every denial of the tenant with the rule must arrive once: `lost` and `duplicates`
 * count the receiver's view (by the event id in the alert and by webhook-id).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { repoPath } from '@portcullis/config';
import { admissionEvent, finding, startApi, startApiProcess, testTls, type ApiHarness } from '@portcullis/testing';
import { benchDatabase, benchDatabaseUrl, percentile } from './support/stack';
import { postEventBatch } from './support/admissions';

const BATCH = 500;
const STEADY_BATCH = 100;
/** Two warm-up rounds (one per tenant, not counted), then the measured rounds. */
const WARMUP_ROUNDS = 2;
const ROUNDS = 10;
const ROUND_EVENTS = 20_000;

interface Received {
  readonly at: number;
  readonly webhookId: string;
  readonly eventId: string | undefined;
}

function receiver(tls: ReturnType<typeof testTls>) {
  const got: Received[] = [];
  const server = https.createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      let eventId: string | undefined;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          data?: { details?: { eventId?: string } };
        };
        eventId = body.data?.details?.eventId;
      } catch {
        eventId = undefined;
      }
      got.push({ at, webhookId: String(req.headers['webhook-id'] ?? ''), eventId });
      res.writeHead(204).end();
    });
  });
  return { server, got };
}

async function gql<T>(api: ApiHarness, token: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const res = await api.gql<T>(token, query, variables);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data as T;
}

/** The worker from its compiled entry point (as `npm start` runs it), on the harness's database and Redis prefix. */
function startWorkerProcess(like: ApiHarness, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [repoPath('dist', 'apps', 'worker', 'src', 'main.js')], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: like.config.databaseUrl,
      REDIS_URL: like.config.redisUrl,
      REDIS_PREFIX: like.config.redisPrefix,
      DEV_ISSUER_STATE_DIR: like.config.devIssuer!.stateDir,
      DEV_ISSUER_PORT: String(like.config.devIssuer!.port),
      AUTH_METADATA_URL: like.config.auth.metadataUrl,
      AUTH_ISSUER_TEMPLATE: like.config.auth.issuerTemplate,
      BUNDLE_SIGNING_KEYS_DIR: like.config.bundles.signingKeysDir,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Until every expected denial reached the receiver, or `idleMs` pass without a new request. */
async function drained(got: readonly Received[], expected: ReadonlyMap<string, number>, idleMs: number): Promise<void> {
  let last = -1;
  let idleSince = Date.now();
  for (;;) {
    const ids = new Set(got.map((g) => g.eventId));
    if ([...expected.keys()].every((id) => ids.has(id))) return;
    if (got.length !== last) {
      last = got.length;
      idleSince = Date.now();
    } else if (Date.now() - idleSince > idleMs) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export async function run(args: readonly string[]): Promise<Record<string, unknown>> {
  const seconds = Number(args[0] ?? 20);
  const rate = Number(args[1] ?? 2000);
  if (!(seconds > 0) || !(rate >= 20)) throw new Error('usage: alerts [seconds>0] [eventsPerSecond>=20]');
  const { config, prisma } = await benchDatabase('portcullis_bench_alerts');
  await prisma.$disconnect();
  const tls = testTls();
  const caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'alerts-bench-')), 'ca.pem');
  fs.writeFileSync(caFile, tls.caPem);
  const rx = receiver(tls);
  await new Promise<void>((r) => rx.server.listen(0, '127.0.0.1', r));
  const rxPort = (rx.server.address() as AddressInfo).port;

  const alertEnv = {
    ALERTS_ALLOW_PRIVATE_DESTINATIONS: 'true',
    ALERTS_EXTRA_CA_FILE: caFile,
    LOG_LEVEL: 'error',
  };
  // set-up through GraphQL in this process; the load goes to an API process and is evaluated and
  // delivered by a worker process, as deployed (the load generator and receiver stay here)
  const api = await startApi({
    DATABASE_URL: benchDatabaseUrl('portcullis_bench_alerts'),
    REDIS_PREFIX: config.redisPrefix,
    ...alertEnv,
  });
  const apiProcess = await startApiProcess(api, alertEnv);
  const port = Number(new URL(apiProcess.url).port);
  const worker = startWorkerProcess(api, alertEnv);
  try {
    /** A tenant with four clusters uploading with real agent credentials. */
    const tenant = async (name: string, account: string) => {
      const { ownerToken } = await api.onboard(name);
      const scope = await gql<{ createCloudScope: { id: string } }>(
        api,
        ownerToken,
        `mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "${account}", displayName: "bench" }) { id } }`,
      );
      const tokens: string[] = [];
      for (let i = 0; i < 4; i++) {
        const reg = await gql<{ registerCluster: { agentToken: string } }>(
          api,
          ownerToken,
          'mutation($i: RegisterClusterInput!) { registerCluster(input: $i) { agentToken } }',
          { i: { cloudScopeId: scope.createCloudScope.id, name: `bench-${i}`, distribution: 'EKS' } },
        );
        tokens.push(reg.registerCluster.agentToken);
      }
      return { owner: ownerToken, tokens };
    };
    // the same run measures ingest with rules (tenant `ruled`) and without (tenant `plain`, no rule at all)
    const ruled = await tenant('alerts bench', '210987654321');
    const plain = await tenant('alerts bench, no rules', '210987654322');
    const destination = await gql<{ createAlertDestination: { destination: { id: string } } }>(
      api,
      ruled.owner,
      'mutation($i: CreateAlertDestinationInput!) { createAlertDestination(input: $i) { destination { id } } }',
      {
        i: {
          name: 'bench receiver',
          kind: 'WEBHOOK',
          url: `https://localhost:${rxPort}/hook`,
          rateLimitPerMinute: 6000,
        },
      },
    );
    await gql(api, ruled.owner, 'mutation($i: CreateAlertRuleInput!) { createAlertRule(input: $i) { id } }', {
      i: {
        name: 'bench denials',
        kind: 'BLOCK_DENIAL',
        digestSeconds: 0,
        destinationIds: [destination.createAlertDestination.destination.id],
      },
    });

    let seq = 0;
    /** `n` events, 1 % Block denials of distinct workloads; the denials' ids. */
    const batchOf = (n: number): { body: Buffer; denials: string[] } => {
      const events = [];
      const denials: string[] = [];
      for (let i = 0; i < n; i++) {
        const k = seq++;
        if (k % 100 === 0) {
          const e = admissionEvent({
            namespace: `ns-${k % 50}`,
            owner: { kind: 'Deployment', name: `denied-${k}` },
            name: `denied-${k}-pod`,
            decision: 'DENIED',
            findings: [finding({ action: 'BLOCK', ruleId: 'privileged-container' })],
          });
          denials.push(e.eventId);
          events.push(e);
        } else
          events.push(
            admissionEvent({
              namespace: `ns-${k % 50}`,
              owner: { kind: 'Deployment', name: `app-${k % 2000}` },
              name: `app-${k % 2000}-${randomUUID().slice(0, 5)}`,
              decision: k % 3 === 0 ? 'AUDITED' : 'ALLOWED',
              findings: k % 3 === 0 ? [finding({ ruleId: 'read-only-root-filesystem' })] : [],
            }),
          );
      }
      return { body: gzipSync(JSON.stringify({ events })), denials };
    };

    const pool = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const expected = new Map<string, number>(); // denial event id -> ack time (rule enabled)
    const ingestRates = { with: { events: 0, ms: 0 }, without: { events: 0, ms: 0 } };

    // 1. closed-loop rounds, alternating between the tenant without and the tenant with the rule
    for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
      const withRules = round % 2 !== 0;
      const tokens = (withRules ? ruled : plain).tokens;
      const batches = Array.from({ length: ROUND_EVENTS / BATCH }, () => batchOf(BATCH));
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 4 }, async (_, lane) => {
          for (let b = next++; b < batches.length; b = next++) {
            const status = await postEventBatch(pool, port, tokens[lane]!, batches[b]!.body);
            if (status !== 200) throw new Error(`upload answered ${status}`);
            if (withRules) for (const id of batches[b]!.denials) expected.set(id, -1);
          }
        }),
      );
      if (round < 0) continue; // warm-up: JIT and connection pools, on both sides
      const side = withRules ? ingestRates.with : ingestRates.without;
      side.events += ROUND_EVENTS;
      side.ms += performance.now() - started;
    }

    // the closed-loop rounds' alerts are delivered before the steady phase starts, so their
    // backlog is not charged to its latency
    await drained(rx.got, expected, 120_000);

    // 2. steady rate, the tenant with the rule: latency from acknowledgement to receiver
    const tokens = ruled.tokens;
    const steadyAcks = new Map<string, number>();
    const interval = (STEADY_BATCH / rate) * 1000;
    const total = Math.round((seconds * rate) / STEADY_BATCH);
    const t0 = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let b = 0; b < total; b++) {
      const wait = t0 + b * interval - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const batch = batchOf(STEADY_BATCH);
      inFlight.push(
        postEventBatch(pool, port, tokens[b % tokens.length]!, batch.body).then((status) => {
          if (status !== 200) throw new Error(`upload answered ${status}`);
          const ack = Date.now();
          for (const id of batch.denials) {
            expected.set(id, ack);
            steadyAcks.set(id, ack);
          }
        }),
      );
    }
    await Promise.all(inFlight);
    const steadySeconds = (performance.now() - t0) / 1000;

    // wait for everything expected to arrive (or 60 s without progress)
    await drained(rx.got, expected, 60_000);
    await new Promise((r) => setTimeout(r, 2_000)); // late duplicates would show here

    // a duplicate: a webhook-id received again, or one denial received under a second alert id
    const firstArrival = new Map<string, number>();
    const perWebhook = new Map<string, number>();
    const perEvent = new Map<string, Set<string>>();
    for (const g of rx.got) {
      perWebhook.set(g.webhookId, (perWebhook.get(g.webhookId) ?? 0) + 1);
      if (!g.eventId) continue;
      if (!firstArrival.has(g.eventId)) firstArrival.set(g.eventId, g.at);
      const ids = perEvent.get(g.eventId) ?? new Set<string>();
      ids.add(g.webhookId);
      perEvent.set(g.eventId, ids);
    }
    let duplicates = 0;
    for (const n of perWebhook.values()) duplicates += n - 1;
    for (const ids of perEvent.values()) duplicates += ids.size - 1;
    const unexpected = [...firstArrival.keys()].filter((id) => !expected.has(id)).length;
    const lost = [...expected.keys()].filter((id) => !firstArrival.has(id)).length;
    const latencies = [...steadyAcks]
      .filter(([id]) => firstArrival.has(id))
      .map(([id, ack]) => firstArrival.get(id)! - ack)
      .sort((a, b) => a - b);
    const withRate = ingestRates.with.events / (ingestRates.with.ms / 1000);
    const withoutRate = ingestRates.without.events / (ingestRates.without.ms / 1000);
    return {
      alerts: firstArrival.size,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies.length ? latencies[latencies.length - 1] : 0,
      duplicates,
      lost,
      unexpectedAlerts: unexpected,
      expectedAlerts: expected.size,
      steadyEventsPerSecond: Math.round((total * STEADY_BATCH) / steadySeconds),
      steadyDenials: steadyAcks.size,
      eventsPerSecondWithRules: Math.round(withRate),
      eventsPerSecondWithoutRules: Math.round(withoutRate),
      ingestRatio: Number((withRate / withoutRate).toFixed(3)),
      roundEvents: ROUND_EVENTS,
      rounds: ROUNDS,
    };
  } finally {
    await stop(worker);
    await apiProcess.stop();
    await api.close();
    rx.server.close();
  }
}
