export * from './generated/client';
export { createPrismaClient, withTenant } from './client';
export type { TenantTx, DbOptions } from './client';
export { ensureDatabase, migrate, readMigrations, MigrationError } from './migrator';
export type { Migration, MigrateResult } from './migrator';
