import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { loadConfig, repoPath, type AppConfig } from '@portcullis/config';
import { createPrismaClient, migrate, type PrismaClient } from '@portcullis/db';
import { TenantOnboarding } from '@portcullis/tenants';

/** The connection URL of bench database `name` on the server DATABASE_URL names. */
export function benchDatabaseUrl(name: string): string {
  const url = new URL(process.env['DATABASE_URL'] ?? 'postgresql://postgres@127.0.0.1:5432/portcullis');
  url.pathname = `/${name}`;
  return url.toString();
}

/** A database of its own for a benchmark, dropped and re-created, so runs are comparable. */
export async function benchDatabase(name = 'portcullis_bench'): Promise<{ config: AppConfig; prisma: PrismaClient }> {
  const c = new Client({ connectionString: benchDatabaseUrl('postgres') });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await c.query(`CREATE DATABASE "${name}"`);
  await c.end();
  return openBenchDatabase(name);
}

/** An existing bench database brought to the current migrations, with the config and client a bench runs with. */
export async function openBenchDatabase(name: string): Promise<{ config: AppConfig; prisma: PrismaClient }> {
  const url = benchDatabaseUrl(name);
  await migrate(url, repoPath('prisma', 'migrations'));
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'error',
    DATABASE_URL: url,
    REDIS_PREFIX: `portcullis-bench-${randomUUID().slice(0, 8)}`,
    BUNDLE_SIGNING_KEYS_DIR: repoPath('dist', '.bench-signing-keys'),
    DEV_ISSUER_STATE_DIR: repoPath('dist', '.bench-dev-issuer'),
  });
  return { config, prisma: createPrismaClient({ databaseUrl: config.databaseUrl, poolSize: 4 }) };
}

/** A tenant with one cloud scope and `count` clusters in it, inserted in bulk. */
export async function tenantWithClusters(
  prisma: PrismaClient,
  count: number,
): Promise<{ tenantId: string; cloudScopeId: string; clusterIds: string[] }> {
  const tenantId = randomUUID();
  await new TenantOnboarding(prisma).create({
    tenantId,
    ownerObjectId: randomUUID(),
    name: 'bench',
    operator: 'bench',
  });
  const scope = await prisma.cloudScope.create({
    data: { tenantId, provider: 'AWS_ACCOUNT', externalId: '123456789012', displayName: 'bench' },
  });
  const clusterIds = Array.from({ length: count }, () => randomUUID());
  for (let i = 0; i < count; i += 1000) {
    await prisma.cluster.createMany({
      data: clusterIds.slice(i, i + 1000).map((id, j) => ({
        id,
        tenantId,
        cloudScopeId: scope.id,
        name: `c-${i + j}`,
        distribution: 'EKS',
        agentTokenId: randomUUID().replace(/-/g, ''),
        agentTokenHash: '0'.repeat(64),
      })),
    });
  }
  return { tenantId, cloudScopeId: scope.id, clusterIds };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
