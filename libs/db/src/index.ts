// How the processes reach PostgreSQL, each for a reason:
// - Prisma (createPrismaClient, withTenant): the models, typed; tenant-bound transactions for domain reads and writes.
// - SqlPool (plain pg): hand-written statements where Prisma's per-call cost shows: ingest, the inventory store, agent credentials.
// - migrate(): one pg Client applies the committed migrations (DDL, as the owner) before the API or worker starts.
// Both runtime paths bind a tenant with the one bindTenant.
export * from './generated/client';
export { createPrismaClient, withTenant } from './client';
export type { TenantTx, DbOptions } from './client';
export { SqlPool } from './sql-pool';
export type { SqlPoolOptions } from './sql-pool';
export { PG_EPOCH_MS, bindTenant } from './tenant-binding';
export { ensureDatabase, migrate, readMigrations, MigrationError } from './migrator';
export type { Migration, MigrateResult } from './migrator';
