/**
 * `npm run bench -- propagation [agents]`: 1,000 simulated agents long-poll the API
 * (one process, keep-alive connections); one policy mutation through GraphQL; the
 * time from the mutation until each agent holds the new revision, verified against
 * the published keys as a real agent does.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplicationContext } from '@nestjs/common';
import { fromJwks, verifyBundle } from '@portcullis/bundle';
import { startApi, startWorker } from '@portcullis/testing';
import { issueAgentCredential } from '@portcullis/credentials';
import { benchDatabase, percentile, tenantWithClusters } from './support/stack';

interface Answer {
  status: number;
  etag?: string;
  body: string;
}

/** One request; like a real agent, a dropped keep-alive connection is simply retried. */
async function get(agent: http.Agent, port: number, path: string, headers: Record<string, string>): Promise<Answer> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await request(agent, port, path, headers);
    } catch (err) {
      if (attempt >= 5) throw err;
    }
  }
}

function request(agent: http.Agent, port: number, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, etag: res.headers.etag, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export async function run(args: readonly string[]): Promise<Record<string, unknown>> {
  const agents = Number(args[0] ?? 1000);
  const { config, prisma } = await benchDatabase('portcullis_bench_propagation');
  const { tenantId, clusterIds } = await tenantWithClusters(prisma, agents);
  const tokens = new Map<string, string>();
  for (const id of clusterIds) {
    const c = issueAgentCredential();
    tokens.set(id, c.token);
    await prisma.cluster.update({ where: { id }, data: { agentTokenId: c.tokenId, agentTokenHash: c.secretHash } });
  }
  const env = {
    DATABASE_URL: config.databaseUrl,
    REDIS_PREFIX: config.redisPrefix,
    BUNDLE_SIGNING_KEYS_DIR: config.bundles.signingKeysDir,
    LOG_LEVEL: 'error',
  };
  const api = await startApi(env);
  await api.app.listen(0, '127.0.0.1');
  const port = (api.app.getHttpServer().address() as AddressInfo).port;
  const worker: INestApplicationContext = await startWorker(api.config);
  const pool = new http.Agent({ keepAlive: true, maxSockets: agents + 10 });
  try {
    const ownerId = (await prisma.roleAssignment.findFirstOrThrow({ where: { tenantId, role: 'OWNER' } })).principalId;
    const token = await api.token(tenantId, ownerId, 'bench');
    // first bundles (registration), then every agent holds revision 1
    const policy = await prisma.policy.findFirstOrThrow({
      where: { tenantId, isDefault: true, type: 'MISCONFIGURATION' },
    });
    await api
      .gql(
        token,
        `mutation { updatePolicy(id: "${policy.id}", input: { version: ${policy.version}, description: "${'bench'}" }) { version } }`,
      )
      .catch(() => undefined);
    const keys = fromJwks(JSON.parse((await get(pool, port, '/.well-known/jwks.json', {})).body));
    const held = new Map<string, { etag: string; revision: number }>();
    await Promise.all(
      clusterIds.map(async (id) => {
        for (;;) {
          const a = await get(pool, port, '/agent/v1/bundle?waitSeconds=30', {
            authorization: `Bearer ${tokens.get(id)}`,
          });
          if (a.status === 200) {
            const v = verifyBundle(JSON.parse(a.body), { trustedKeys: keys, clusterId: id, now: new Date() });
            if (!v.ok) throw new Error(`agent ${id}: ${v.reason} ${v.message}`);
            held.set(id, { etag: a.etag!, revision: v.bundle.revision });
            return;
          }
        }
      }),
    );
    // every agent now long-polls with what it holds; then one mutation
    let mutatedAt = 0n;
    const latencies: number[] = [];
    const polls = clusterIds.map(async (id) => {
      const mine = held.get(id)!;
      for (;;) {
        const a = await get(pool, port, '/agent/v1/bundle?waitSeconds=30', {
          authorization: `Bearer ${tokens.get(id)}`,
          'if-none-match': mine.etag,
        });
        if (a.status !== 200) continue;
        const v = verifyBundle(JSON.parse(a.body), {
          trustedKeys: keys,
          clusterId: id,
          now: new Date(),
          heldRevision: mine.revision,
        });
        if (!v.ok) throw new Error(`agent ${id}: ${v.reason} ${v.message}`);
        if (v.bundle.revision > mine.revision) {
          latencies.push(Number(process.hrtime.bigint() - mutatedAt) / 1e6);
          return;
        }
      }
    });
    // mutate once every agent's poll is parked on the server, as in a steady fleet
    for (let i = 0; api.parkedPolls() < agents && i < 600; i++) await new Promise((r) => setTimeout(r, 50));
    const current = await prisma.policy.findUniqueOrThrow({ where: { id: policy.id } });
    mutatedAt = process.hrtime.bigint();
    const res = await api.gql(
      token,
      `mutation { updatePolicy(id: "${policy.id}", input: { version: ${current.version}, action: BLOCK }) { version } }`,
    );
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    // when the last bundle was stored, to tell compile time from delivery time
    let storedMs = 0;
    const watcher = (async () => {
      for (;;) {
        const done = await prisma.cluster.count({ where: { tenantId, bundleRevision: { gte: 2 } } });
        if (done >= agents) return (storedMs = Number(process.hrtime.bigint() - mutatedAt) / 1e6);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await Promise.all([...polls, watcher]);
    latencies.sort((a, b) => a - b);
    const round = (n: number) => Math.round(n * 10) / 10;
    return {
      agents,
      storedMs: round(storedMs),
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
      maxMs: round(latencies[latencies.length - 1]!),
      verified: latencies.length,
    };
  } finally {
    pool.destroy();
    await worker.close();
    await api.close();
    await prisma.$disconnect();
  }
}
