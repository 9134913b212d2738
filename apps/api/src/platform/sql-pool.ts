import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { PoolClient } from 'pg';
import type { AppConfig } from '@portcullis/config';
import { SqlPool as PlainSqlPool } from '@portcullis/db';
import { APP_CONFIG } from '@portcullis/platform';
import { DbGates } from './tenant-gate';

/**
 * The API's plain `pg` pool (SqlPool of @portcullis/db) for its hot paths: the ingest
 * statement and the rollup flush, the agent credential check every agent request makes,
 * and the report queries, where Prisma's query layer cost several times a prepared
 * statement per call (bench/README.md has the profiles). Tenant work passes the tenant gate.
 */
@Injectable()
export class SqlPool extends PlainSqlPool implements OnApplicationShutdown {
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly gates: DbGates,
  ) {
    super({ databaseUrl: config.databaseUrl, max: config.database.sqlPoolSize });
  }

  /** Passes the tenant gate first: a tenant (and a request) holds at most its share of the pool. */
  override inTenant<T>(tenantId: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.gates.sql.run(tenantId, () => super.inTenant(tenantId, work));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.end();
  }
}
