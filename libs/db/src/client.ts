import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client';
import type { Prisma } from './generated/client';
import { SerialClient } from './serial-client';
import { bindTenant } from './tenant-binding';

export type TenantTx = Prisma.TransactionClient;

export interface DbOptions {
  readonly databaseUrl: string;
  /** pg pool size; the API and worker each hold one pool. */
  readonly poolSize?: number;
}

export function createPrismaClient(options: DbOptions): PrismaClient {
  // SerialClient: a transaction's statements reach its connection one at a time (see there)
  const adapter = new PrismaPg({
    connectionString: options.databaseUrl,
    max: options.poolSize ?? 10,
    Client: SerialClient,
  });
  return new PrismaClient({ adapter });
}

/** Runs `work` in one Prisma transaction bound to a tenant (bindTenant: row-level security confines it to the tenant). */
export async function withTenant<T>(
  prisma: PrismaClient,
  tenantId: string,
  work: (tx: TenantTx) => Promise<T>,
  options: { readonly isolationLevel?: Prisma.TransactionIsolationLevel; readonly timeoutMs?: number } = {},
): Promise<T> {
  return prisma.$transaction(
    async (tx) => {
      await bindTenant((text, values) => tx.$executeRawUnsafe(text, ...values), tenantId);
      return work(tx);
    },
    { isolationLevel: options.isolationLevel, timeout: options.timeoutMs ?? 10_000, maxWait: 5_000 },
  );
}
