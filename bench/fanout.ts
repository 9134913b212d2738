/**
 * `npm run bench -- fanout [clusters]`: one tenant-wide policy change across 10,000
 * clusters, through the real path — the outbox event on the BullMQ distribution queue,
 * the worker compiling, signing and storing every bundle — timed until every cluster
 * holds the new revision.
 */
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { DISTRIBUTION_QUEUE } from '@portcullis/distribution';
import { WorkerModule } from '../apps/worker/src/worker.module';
import { benchDatabase, tenantWithClusters } from './support/stack';

async function waitForRevision(
  prisma: import('@portcullis/db').PrismaClient,
  tenantId: string,
  revision: number,
  total: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const done = await prisma.cluster.count({ where: { tenantId, bundleRevision: { gte: revision } } });
    if (done === total) return;
    if (Date.now() > deadline)
      throw new Error(`only ${done}/${total} clusters reached revision ${revision} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function run(args: readonly string[]): Promise<Record<string, unknown>> {
  const clusters = Number(args[0] ?? 10_000);
  const { config, prisma } = await benchDatabase();
  const { tenantId } = await tenantWithClusters(prisma, clusters);
  const worker: INestApplicationContext = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), {
    logger: false,
  });
  await worker.init();
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(DISTRIBUTION_QUEUE, { connection: redis, prefix: config.redisPrefix });
  try {
    // first bundles of every cluster (what registration would do), not measured
    await queue.add('cluster.registered', { tenantId }, { jobId: 'initial' });
    await waitForRevision(prisma, tenantId, 1, clusters, 600_000);

    // the measured change: the tenant's default policy switches to BLOCK
    const policy = await prisma.policy.findFirstOrThrow({
      where: { tenantId, isDefault: true, type: 'MISCONFIGURATION' },
    });
    const started = process.hrtime.bigint();
    await prisma.policy.update({ where: { id: policy.id }, data: { action: 'BLOCK', version: { increment: 1 } } });
    await queue.add('policy.updated', { tenantId, policyId: policy.id, cloudScopeIds: [] }, { jobId: 'change' });
    await waitForRevision(prisma, tenantId, 2, clusters, 600_000);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const bundles = await prisma.bundle.count({ where: { tenantId } });
    const doubles = await prisma.$queryRaw<
      Array<{ n: bigint }>
    >`SELECT count(*) AS n FROM (SELECT cluster_id FROM bundles GROUP BY cluster_id, revision HAVING count(*) > 1) d`;
    return {
      clusters,
      seconds: Math.round(seconds * 1000) / 1000,
      bundlesPerSecond: Math.round(clusters / seconds),
      bundlesStored: bundles,
      duplicateRevisions: Number(doubles[0]!.n),
    };
  } finally {
    await queue.close();
    redis.disconnect();
    await worker.close();
    await prisma.$disconnect();
  }
}
