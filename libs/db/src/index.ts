export { PrismaClient, Prisma } from './generated/client';
export * from './generated/enums';
export type * from './generated/models';
export { createPrismaClient, withTenant } from './client';
export type { TenantTx, DbOptions } from './client';
export { ensureDatabase, migrate, readMigrations, MigrationError } from './migrator';
export type { Migration, MigrateResult } from './migrator';
