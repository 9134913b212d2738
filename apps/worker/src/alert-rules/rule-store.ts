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

/** Enabled event rules of a tenant (BLOCK_DENIAL, FIRST_WOULD_DENY), in the caller's tenant-bound transaction. */
async function enabledEventRules(client: PoolClient): Promise<Map<string, AlertRuleRecord>> {
  const out = await client.query<AlertRuleRecord>(
    `SELECT ${RULE_COLUMNS} FROM alert_rules r WHERE r.enabled AND r.kind IN ('BLOCK_DENIAL', 'FIRST_WOULD_DENY')`,
  );
  return new Map(out.rows.map((r) => [r.id, r]));
}

const RULES_MS = 10_000;
const RULES_RELOAD_MS = 1_000;
const CLUSTERS_MS = 60_000;
const CACHE_MAX = 10_000;

/**
 * What evaluation jobs read for every batch, kept briefly: a tenant's event rules (dropped at once
 * when the alert-rules channel announces a change, else after 10 s; a rule the cache lacks reloads
 * it, at most once a second) and cluster names (a minute). Two queries fewer per job.
 */
export class EvaluationCache {
  private readonly rules = new Map<string, { rules: Map<string, AlertRuleRecord>; at: number }>();
  private readonly clusters = new Map<string, { ref: ClusterRef; at: number }>();

  invalidate(tenantId: string): void {
    this.rules.delete(tenantId);
  }

  async rulesOf(client: PoolClient, tenantId: string, ids: readonly string[]): Promise<Map<string, AlertRuleRecord>> {
    const now = Date.now();
    const cached = this.rules.get(tenantId);
    if (
      cached &&
      now - cached.at < RULES_MS &&
      (ids.every((id) => cached.rules.has(id)) || now - cached.at < RULES_RELOAD_MS)
    )
      return cached.rules;
    const rules = await enabledEventRules(client);
    if (this.rules.size >= CACHE_MAX) this.rules.clear();
    this.rules.set(tenantId, { rules, at: now });
    return rules;
  }

  async cluster(client: PoolClient, clusterId: string, cloudScopeId: string): Promise<ClusterRef> {
    const now = Date.now();
    const cached = this.clusters.get(clusterId);
    if (cached && now - cached.at < CLUSTERS_MS) return cached.ref;
    const ref = await clusterRef(client, clusterId, cloudScopeId);
    if (this.clusters.size >= CACHE_MAX) this.clusters.clear();
    this.clusters.set(clusterId, { ref, at: now });
    return ref;
  }
}
