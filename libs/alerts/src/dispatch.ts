import type { SqlPool } from '@portcullis/db';
import {
  DELIVER_JOB,
  checkAlert,
  deliverJobOptions,
  deliveryJobId,
  isUuid,
  type Alert,
  type AlertsQueue,
  type DeliveryRetryOptions,
} from './alert';

/** A pg client inside a transaction already bound to the alert's tenant (SqlPool.inTenant's client). */
export interface SqlClient {
  query(text: string, values: unknown[]): Promise<{ readonly rows: readonly Record<string, unknown>[] }>;
}
/** A Prisma transaction already bound to the alert's tenant (withTenant's tx). */
export interface PrismaTx {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
}

export interface DispatchDeps {
  /**
   * Where the rows go: `pool` runs one tenant-bound transaction of its own; `client` or `tx`
   * write in the caller's transaction. Then the jobs are added before it commits: a job that
   * finds no row yet looks again every 100 ms for up to a minute without spending an attempt,
   * so it is sent once the commit lands; after a rollback nothing is sent.
   */
  readonly db: { readonly pool: SqlPool } | { readonly client: SqlClient } | { readonly tx: PrismaTx };
  readonly queue: AlertsQueue;
  readonly retry: DeliveryRetryOptions;
}

export class AlertDispatchError extends Error {}

/** Default retries: 8 attempts from 15 s, capped at 10 min between attempts: about 26 minutes in all. */
export const DEFAULT_DELIVERY_RETRY: DeliveryRetryOptions = {
  attempts: 8,
  backoffBaseMs: 15_000,
  backoffMaxMs: 600_000,
};

/**
 * One statement: the alert (once: its id is its key), and a QUEUED delivery row per destination
 * of the tenant that is enabled and not deleted (once per pair). It returns the destinations
 * whose delivery is still QUEUED, new or left by an earlier dispatch whose jobs were not added.
 */
const DISPATCH_SQL = `
WITH a AS (
  INSERT INTO alerts (id, tenant_id, rule_id, kind, severity, title, occurred_at, cloud_scope_id, cluster_id, body)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
  ON CONFLICT (id) DO NOTHING
  RETURNING id
), d AS (
  INSERT INTO alert_deliveries (tenant_id, alert_id, destination_id, alert_kind, cloud_scope_id, cluster_id)
  SELECT $2, $1, dest.id, $4, $8, $9
    FROM alert_destinations dest
   WHERE dest.tenant_id = $2 AND dest.id = ANY($11::uuid[]) AND dest.enabled AND dest.deleted_at IS NULL
  ON CONFLICT (alert_id, destination_id) DO NOTHING
  RETURNING destination_id
)
SELECT destination_id::text AS destination_id FROM d
UNION
SELECT destination_id::text FROM alert_deliveries
 WHERE alert_id = $1 AND destination_id = ANY($11::uuid[]) AND status = 'QUEUED'`;

/**
 * Persists the alert and a QUEUED delivery row per destination (one statement, in the caller's
 * transaction or its own) and adds the BullMQ jobs. Destinations disabled or deleted are
 * skipped. Dispatching the same alert again adds nothing: the rows are keyed by the alert id
 * and the job ids by (alert, destination).
 */
export async function dispatchAlert(
  deps: DispatchDeps,
  alert: Alert,
  destinationIds: readonly string[],
): Promise<void> {
  const pending = await persistAlert(deps.db, alert, destinationIds);
  await enqueueDeliveries(deps.queue, deps.retry, alert, pending);
}

/**
 * dispatchAlert's first half: the rows only. Returns the destinations whose delivery waits for
 * a job; pass them to enqueueDeliveries once the caller's transaction has committed.
 */
export async function persistAlert(
  db: DispatchDeps['db'],
  alert: Alert,
  destinationIds: readonly string[],
): Promise<string[]> {
  const problem = checkAlert(alert);
  if (problem) throw new AlertDispatchError(`alert ${String(alert.id).slice(0, 40)}: ${problem}`);
  const bad = destinationIds.findIndex((id) => !isUuid(id));
  if (bad >= 0) throw new AlertDispatchError(`destinationIds[${bad}] is not a uuid`);
  if (destinationIds.length === 0) return [];
  const values: unknown[] = [
    alert.id,
    alert.tenantId,
    alert.ruleId,
    alert.kind,
    alert.severity,
    alert.title,
    new Date(alert.occurredAt),
    alert.cloudScopeId ?? null,
    alert.cluster?.id ?? null,
    JSON.stringify(alert),
    [...new Set(destinationIds.map((id) => id.toLowerCase()))],
  ];
  let rows: readonly Record<string, unknown>[];
  if ('pool' in db)
    rows = await db.pool.inTenant(alert.tenantId, async (c) => (await c.query(DISPATCH_SQL, values)).rows);
  else if ('client' in db) rows = (await db.client.query(DISPATCH_SQL, values)).rows;
  else rows = await db.tx.$queryRawUnsafe<Record<string, unknown>[]>(DISPATCH_SQL, ...values);
  return rows.map((r) => String(r['destination_id']));
}

/** dispatchAlert's second half: one job per destination, its id derived from (alert, destination). */
export async function enqueueDeliveries(
  queue: AlertsQueue,
  retry: DeliveryRetryOptions,
  alert: Pick<Alert, 'id' | 'tenantId'>,
  destinationIds: readonly string[],
): Promise<void> {
  if (destinationIds.length === 0) return;
  const opts = deliverJobOptions(retry);
  await queue.addBulk(
    destinationIds.map((destinationId) => ({
      name: DELIVER_JOB,
      data: { tenantId: alert.tenantId, alertId: alert.id, destinationId },
      opts: { ...opts, jobId: deliveryJobId(alert.id, destinationId) },
    })),
  );
}
