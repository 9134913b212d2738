import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Pool, type PoolClient } from 'pg';
import type { AppConfig } from '@portcullis/config';
import { APP_CONFIG } from '@portcullis/platform';
import { DbGates } from './tenant-gate';

/**
 * A plain `pg` pool for the API's hot paths: the ingest statement and the rollup flush,
 * the agent credential check every agent request makes, and the report queries. Prisma's
 * query layer costs noticeably more per call: the credential check's two Prisma queries took
 * ~1.4 ms of the API's CPU per upload in a profile under ingest load; alone, 221-250 µs per
 * Prisma lookup against 50-58 µs for one prepared statement here (2026-12-03). `inTenant`
 * binds a transaction as withTenant does: it drops to portcullis_app and sets
 * app.tenant_id, so row-level security confines it to that tenant.
 */
@Injectable()
export class SqlPool implements OnApplicationShutdown {
  private readonly pool: Pool;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly gates: DbGates,
  ) {
    this.pool = new Pool({ connectionString: config.databaseUrl, max: config.database.sqlPoolSize, idleTimeoutMillis: 30_000 });
    this.pool.on('error', () => undefined); // an idle client's connection dropped: the pool replaces it
  }

  /** Passes the tenant gate first: a tenant (and a request) holds at most its share of the pool. */
  inTenant<T>(tenantId: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.gates.sql.run(tenantId, () => this.transaction(tenantId, work));
  }

  private async transaction<T>(tenantId: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      await client.query("SELECT set_config('role', 'portcullis_app', true), set_config('app.tenant_id', $1, true)", [tenantId]);
      const out = await work(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /**
   * One statement as the owning role (platform work across tenants: folding staged rollups,
   * vacuuming staging, finding the cluster an agent credential names), outside any tenant
   * binding. `name` prepares it once per connection.
   */
  async asOwner<R extends Record<string, unknown>>(text: string, values: readonly unknown[] = [], name?: string): Promise<R[]> {
    const out = await this.pool.query<R>(name ? { name, text, values: [...values] } : { text, values: [...values] });
    return out.rows;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}
