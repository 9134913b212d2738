/**
 * `npm run bench -- background [pods] [workloads]`: the background audit of a 10,000-pod
 * cluster. A stand-in Kubernetes API serves 500 workloads (the pod-template workloads of
 * ../shared/fixtures/manifests, copied into team namespaces) with 20 controller-owned pods
 * each; a real agent process (the image's V8 flags, its own defaults) lists and watches them
 * with client-node, evaluates them with the bundle the real API and worker compiled, and
 * reports them. Measured: from the agent's spawn until GraphQL `runningWorkloads` answers
 * for every workload and pod (`secondsToQueryable`), and the agent's peak resident memory
 * (VmHWM of /proc/<pid>/status, `agentRssMb`).
 */
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { INestApplicationContext } from '@nestjs/common';
import {
  agentEnv,
  manifestWorkloads,
  putRunning,
  spawnAgent,
  startApi,
  startKubeApi,
  startWorker,
  tempDir,
  testTls,
} from '@portcullis/testing';
import { benchDatabase } from './support/stack';

const TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);

function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : NaN;
}

export async function run(args: readonly string[]): Promise<Record<string, unknown>> {
  const pods = Number(args[0] ?? 10_000);
  const workloads = Number(args[1] ?? 500);
  const podsPer = Math.floor(pods / workloads);
  const { config, prisma } = await benchDatabase('portcullis_bench_background');
  const api = await startApi({
    DATABASE_URL: config.databaseUrl,
    REDIS_PREFIX: config.redisPrefix,
    BUNDLE_SIGNING_KEYS_DIR: config.bundles.signingKeysDir,
    LOG_LEVEL: 'error',
  });
  await api.app.listen(0, '127.0.0.1');
  const apiUrl = `http://127.0.0.1:${(api.app.getHttpServer().address() as AddressInfo).port}`;
  const worker: INestApplicationContext = await startWorker(api.config);
  const kube = await startKubeApi();
  let agent: Awaited<ReturnType<typeof spawnAgent>> | undefined;
  try {
    const { ownerToken } = await api.onboard('Background bench');
    const scope = await api.gql<{ createCloudScope: { id: string } }>(
      ownerToken,
      'mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "777777777777", displayName: "bench" }) { id } }',
    );
    const reg = await api.gql<{ registerCluster: { cluster: { id: string }; agentToken: string } }>(
      ownerToken,
      `mutation { registerCluster(input: { cloudScopeId: "${scope.data!.createCloudScope.id}", name: "background-bench", distribution: EKS }) { cluster { id } agentToken } }`,
    );
    if (reg.errors) throw new Error(JSON.stringify(reg.errors));
    const clusterId = reg.data!.registerCluster.cluster.id;

    // 500 workloads of real specs, 20 running pods each, in team namespaces
    const specs = manifestWorkloads().filter((w) => TEMPLATE_KINDS.has(String(w['kind'])));
    let made = 0;
    let podsMade = 0;
    for (let copy = 0; made < workloads && specs.length > 0; copy++) {
      for (const w of specs) {
        if (made >= workloads) break;
        const meta = w['metadata'] as Record<string, unknown>;
        // a namespace per copy and original namespace: every kind/namespace/name stays unique
        const namespace = `t${copy}-${String(meta['namespace'])}`.slice(0, 63);
        podsMade += putRunning(kube, { ...w, metadata: { ...meta, namespace } }, podsPer);
        made++;
      }
    }

    const jwks = (await api.http().get('/.well-known/jwks.json').expect(200)).body as { keys: [] };
    const env = agentEnv({
      dir: tempDir(),
      apiUrl,
      token: reg.data!.registerCluster.agentToken,
      jwks,
      tls: testTls(),
      clusterId,
      timings: 'defaults',
      extra: { ...kube.agentEnv, LOG_LEVEL: 'info' },
    });
    const started = process.hrtime.bigint();
    agent = await spawnAgent(env);
    const query = `{ runningWorkloads(filter: { clusterId: "${clusterId}" }, first: 1) { summary { workloads pods } } }`;
    let seconds = 0;
    let last: unknown;
    for (const deadline = Date.now() + 180_000; ; await new Promise((r) => setTimeout(r, 200))) {
      if (Date.now() > deadline)
        throw new Error(
          `the API did not answer for all ${made} workloads and ${podsMade} pods within 180 s (last: ${JSON.stringify(last)})`,
        );
      const r = await api.gql<{ runningWorkloads: { summary: { workloads: number; pods: number } } }>(
        ownerToken,
        query,
      );
      const s = r.data?.runningWorkloads.summary;
      last = s ?? r.errors;
      if (s && s.workloads === made && s.pods === podsMade) {
        seconds = Number(process.hrtime.bigint() - started) / 1e9;
        break;
      }
    }
    const rss = peakRssMb(agent.child.pid!);
    const listRequests = kube.requests.filter((r) => r.query['watch'] !== 'true' && r.method === 'GET').length;
    return {
      pods: podsMade,
      workloads: made,
      secondsToQueryable: Math.round(seconds * 100) / 100,
      agentRssMb: rss,
      listRequests,
      node: process.version,
    };
  } finally {
    if (agent) {
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
    await kube.close();
    await worker.close();
    await api.close();
    await prisma.$disconnect();
  }
}
