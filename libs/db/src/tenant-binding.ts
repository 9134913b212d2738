/**
 * Binds the current transaction to a tenant: it drops to the non-privileged role
 * portcullis_app and sets app.tenant_id, so row-level security confines every later
 * statement of the transaction to that tenant even if a query forgets its filter. Both
 * settings are transaction-local (`true`): they end with COMMIT or ROLLBACK, so a pooled
 * connection never carries one tenant's binding into the next transaction.
 * The one definition for Prisma (withTenant) and plain pg (SqlPool): `query` runs one
 * statement with positional parameters on the transaction's connection.
 */
export async function bindTenant(
  query: (text: string, values: unknown[]) => Promise<unknown>,
  tenantId: string,
): Promise<void> {
  await query(TENANT_BINDING_SQL, [tenantId]);
}

const TENANT_BINDING_SQL = "SELECT set_config('role', 'portcullis_app', true), set_config('app.tenant_id', $1, true)";

/** PostgreSQL's epoch (2000-01-01T00:00:00Z) in Unix milliseconds: its binary times count from it. */
export const PG_EPOCH_MS = 946_684_800_000;
