import { findRule } from '@portcullis/policy-engine';
import type { NativeStatus } from '@portcullis/contracts';
import { Prisma, type TenantTx } from '@portcullis/db';

/** The cluster columns of the native report, for the status update ({} when the report is stale). */
export type NativeClusterFields = Partial<
  Pick<Prisma.ClusterUpdateInput, 'nativeReconciledAt' | 'nativeRevision' | 'nativeMetricsError'>
>;

/** Totals never pass what a JavaScript number (and the contract's count) holds exactly. */
const MAX_TOTAL = Number.MAX_SAFE_INTEGER;

/**
 * Stores the native-enforcement part of an agent's status, in the status request's
 * transaction (tenant-bound: row-level security confines it to the agent's tenant).
 *
 * Per-policy states are replaced as a whole. A report compiled from an older bundle
 * revision than the one stored (a lagging agent replica) leaves the newer states in place.
 * Counters feed a monotonic total per cluster, policy, rule and action: the increase since
 * the previous report, or the whole value when it went down (kube-apiserver restarted).
 * Entries naming a policy the tenant does not have (deleted since, or never its own) or a
 * rule outside the catalog are not kept, so a report cannot grow the tables without bound.
 */
export async function recordNativeStatus(
  tx: TenantTx,
  cluster: { readonly id: string; readonly tenantId: string; readonly nativeRevision: number | null },
  native: NativeStatus | undefined,
  reconciledAt: Date | null,
  now: Date,
): Promise<NativeClusterFields> {
  if (!native) {
    // webhook mode (or an agent that predates native mode): nothing is enforced natively
    await tx.clusterNativePolicy.deleteMany({ where: { clusterId: cluster.id } });
    return { nativeReconciledAt: null, nativeRevision: null, nativeMetricsError: null };
  }
  const ids = [...new Set([...native.policies, ...(native.checks ?? [])].map((p) => p.policyId.toLowerCase()))];
  const known = new Set(
    (await tx.policy.findMany({ where: { id: { in: ids } }, select: { id: true } })).map((p) => p.id),
  );
  const checks = (native.checks ?? []).filter((c) => known.has(c.policyId.toLowerCase()) && findRule(c.rule));
  if (checks.length) await addChecks(tx, cluster, checks, now);
  const stale = cluster.nativeRevision !== null && native.revision < cluster.nativeRevision;
  if (stale) return {};
  const rows = native.policies
    .filter((p) => known.has(p.policyId.toLowerCase()))
    .map((p) => ({
      clusterId: cluster.id,
      policyId: p.policyId.toLowerCase(),
      tenantId: cluster.tenantId,
      revision: native.revision,
      state: p.state,
      reason: p.reason ?? null,
      objects: p.objects,
      unsupported: (p.unsupported ?? []).map((u) => ({
        ...(u.rule !== undefined ? { rule: u.rule } : {}),
        what: u.what,
        reason: u.reason,
      })),
      reportedAt: now,
    }));
  // agents repeat the same report every status interval: rewrite only what changed, so a
  // steady cluster costs one read, and reportedAt stays when the state was first reported
  // (a new revision with the same state only moves the revision)
  const current = await tx.clusterNativePolicy.findMany({
    where: { clusterId: cluster.id },
    select: { policyId: true, revision: true, state: true, reason: true, objects: true, unsupported: true },
  });
  const before = new Map(current.map((c) => [c.policyId, c]));
  const changed = rows.filter((r) => !sameState(before.get(r.policyId), r));
  const reported = new Set(rows.map((r) => r.policyId));
  const replaced = [...current.filter((c) => !reported.has(c.policyId)).map((c) => c.policyId)];
  replaced.push(...changed.map((r) => r.policyId));
  if (replaced.length)
    await tx.clusterNativePolicy.deleteMany({ where: { clusterId: cluster.id, policyId: { in: replaced } } });
  if (changed.length) await tx.clusterNativePolicy.createMany({ data: changed });
  const moved = rows.filter((r) => !changed.includes(r) && before.get(r.policyId)!.revision !== native.revision);
  if (moved.length)
    await tx.clusterNativePolicy.updateMany({
      where: { clusterId: cluster.id, policyId: { in: moved.map((r) => r.policyId) } },
      data: { revision: native.revision },
    });
  return {
    nativeReconciledAt: reconciledAt,
    nativeRevision: native.revision,
    // checks null = the metrics could not be read, with or without a reason
    nativeMetricsError:
      native.metricsError ?? (native.checks === null ? 'the agent could not read the API server metrics' : null),
  };
}

interface StoredState {
  readonly state: string;
  readonly reason: string | null;
  readonly objects: number;
  readonly unsupported: Prisma.JsonValue;
}

function sameState(stored: StoredState | undefined, next: StoredState): boolean {
  return (
    stored !== undefined &&
    stored.state === next.state &&
    stored.reason === next.reason &&
    stored.objects === next.objects &&
    unsupportedKey(stored.unsupported) === unsupportedKey(next.unsupported)
  );
}

/** jsonb does not keep key order: compare the items' fields, in order. */
function unsupportedKey(value: Prisma.JsonValue): string {
  if (!Array.isArray(value)) return '';
  return JSON.stringify(
    value.map((v) => {
      const u = (v ?? {}) as Record<string, unknown>;
      return [u['rule'] ?? null, u['what'] ?? null, u['reason'] ?? null];
    }),
  );
}

async function addChecks(
  tx: TenantTx,
  cluster: { readonly id: string; readonly tenantId: string },
  checks: NonNullable<NativeStatus['checks']>,
  now: Date,
): Promise<void> {
  // one statement whatever the count; ON CONFLICT locks each row, so concurrent reports of one
  // cluster (two agent replicas) add their increases one after the other
  await tx.$executeRaw`
    INSERT INTO cluster_native_checks AS c
      (cluster_id, policy_id, rule_id, enforcement_action, tenant_id, reported, total, updated_at)
    SELECT ${cluster.id}::uuid, v.policy_id, v.rule_id, v.action::"NativeCheckAction", ${cluster.tenantId}::uuid,
           v.count, v.count, ${now}
    FROM unnest(${checks.map((c) => c.policyId.toLowerCase())}::uuid[], ${checks.map((c) => c.rule)}::text[],
                ${checks.map((c) => c.enforcementAction)}::text[], ${checks.map((c) => BigInt(c.count))}::bigint[])
      AS v(policy_id, rule_id, action, count)
    ON CONFLICT (cluster_id, policy_id, rule_id, enforcement_action) DO UPDATE SET
      total = LEAST(${Prisma.raw(String(MAX_TOTAL))}::bigint, c.total +
        CASE WHEN EXCLUDED.reported >= c.reported THEN EXCLUDED.reported - c.reported ELSE EXCLUDED.reported END),
      reported = EXCLUDED.reported,
      updated_at = EXCLUDED.updated_at
    -- an unchanged counter (most of them, most of the time) writes nothing
    WHERE c.reported <> EXCLUDED.reported`;
}
