import type { AlertRuleRecord } from '@portcullis/alert-rules';
import type { SqlPool } from '@portcullis/db';
import type { PoolClient } from 'pg';
import type { ClusterRef } from './alert-text';

const RULE_COLUMNS = `
  r.id::text AS id, r.tenant_id::text AS "tenantId", r.name, r.kind, r.severity, r.enabled,
  r.cloud_scope_ids::text[] AS "cloudScopeIds", r.cluster_ids::text[] AS "clusterIds",
  r.namespace_patterns AS "namespacePatterns", r.policy_ids::text[] AS "policyIds", r.rule_ids AS "ruleIds",
  r.decisions, r.threshold_minutes AS "thresholdMinutes", r.ready_after_days AS "readyAfterDays",
  r.digest_seconds AS "digestSeconds",
  coalesce((SELECT array_agg(d.destination_id::text ORDER BY d.destination_id) FROM alert_rule_destinations d
             WHERE d.rule_id = r.id), '{}') AS "destinationIds"`;

/** Enabled rules among `ids`, in the caller's tenant-bound transaction. */
export async function enabledRules(client: PoolClient, ids: readonly string[]): Promise<Map<string, AlertRuleRecord>> {
  const out = await client.query<AlertRuleRecord>(
    `SELECT ${RULE_COLUMNS} FROM alert_rules r WHERE r.id = ANY($1::uuid[]) AND r.enabled`,
    [[...ids]],
  );
  return new Map(out.rows.map((r) => [r.id, r]));
}

/** Enabled rules of these kinds across tenants: the periodic pass's platform read (every row names its tenant). */
export function enabledRulesOfKinds(pool: SqlPool, kinds: readonly string[]): Promise<AlertRuleRecord[]> {
  return pool.asOwner<AlertRuleRecord & Record<string, unknown>>(
    `SELECT ${RULE_COLUMNS} FROM alert_rules r WHERE r.enabled AND r.kind = ANY($1::text[]) ORDER BY r.tenant_id, r.id`,
    [[...kinds]],
  );
}

export async function clusterRef(client: PoolClient, clusterId: string, cloudScopeId: string): Promise<ClusterRef> {
  const out = await client.query<{ id: string; name: string; cloudScopeId: string }>(
    `SELECT id::text, name, cloud_scope_id::text AS "cloudScopeId" FROM clusters WHERE id = $1`,
    [clusterId],
  );
  // a cluster deleted since the batch: its alerts still name it by id
  return out.rows[0] ?? { id: clusterId, name: clusterId, cloudScopeId };
}
