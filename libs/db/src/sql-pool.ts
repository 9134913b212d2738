import { Pool, type PoolClient } from 'pg';
import { bindTenant } from './tenant-binding';

export interface SqlPoolOptions {
  readonly databaseUrl: string;
  readonly max: number;
}

/**
 * A plain `pg` pool for hand-written SQL: no query layer between a statement and its
 * connection, named statements prepared once per connection. `inTenant` runs work in one
 * transaction bound to a tenant (bindTenant, as withTenant does for Prisma); `asOwner` and
 * `executeAsOwner` run one statement as the owning role, for platform work across tenants
 * (every such statement names the tenant it touches, or is DDL).
 */
export class SqlPool {
  private readonly pool: Pool;

  constructor(options: SqlPoolOptions) {
    this.pool = new Pool({ connectionString: options.databaseUrl, max: options.max, idleTimeoutMillis: 30_000 });
    this.pool.on('error', () => undefined); // an idle client's connection dropped: the pool replaces it
  }

  /** `work` in one transaction under row-level security for `tenantId`; committed when it resolves, rolled back when it throws. */
  async inTenant<T>(tenantId: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      await bindTenant((text, values) => client.query(text, values), tenantId);
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

  /** One statement as the owning role, outside any tenant binding; its rows. `name` prepares it once per connection. */
  async asOwner<R extends Record<string, unknown>>(
    text: string,
    values: readonly unknown[] = [],
    name?: string,
  ): Promise<R[]> {
    const out = await this.pool.query<R>(name ? { name, text, values: [...values] } : { text, values: [...values] });
    return out.rows;
  }

  /** One statement as the owning role (see asOwner); the rows it inserted, updated or deleted. */
  async executeAsOwner(text: string, values: readonly unknown[] = []): Promise<number> {
    const out = await this.pool.query({ text, values: [...values] });
    return out.rowCount ?? 0;
  }

  async end(): Promise<void> {
    await this.pool.end();
  }
}
