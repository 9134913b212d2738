import type { Prisma, TenantTx } from '@portcullis/db';
import { policyScopeOf, scopeMatch } from '@portcullis/distribution';
import type { Principal } from '../tenancy/principal';
import { Visibility } from '../tenancy/visibility';
import {
  NativeEnforcementState,
  type NativePolicyState,
  type NativeRuleChecks,
  type NativeUnsupported,
} from './native-rollout.types';

/** What the native view needs of a cluster row. */
export interface NativeCluster {
  readonly id: string;
  readonly cloudScopeId: string;
  readonly enforcementMode: 'WEBHOOK' | 'NATIVE';
  readonly bundleRevision: number | null;
  readonly nativeRevision: number | null;
}

/** What the native view needs of a policy: it is named only when the caller reads it. */
export interface NativePolicyRef {
  readonly id: string;
  readonly name: string;
  readonly type: 'MISCONFIGURATION' | 'VULNERABILITY';
  readonly cloudScopes: ReadonlyArray<{ readonly cloudScopeId: string }>;
  readonly clusters: ReadonlyArray<{ readonly clusterId: string }>;
}

const policyRefSelect = {
  id: true,
  name: true,
  type: true,
  cloudScopes: { select: { cloudScopeId: true } },
  clusters: { select: { clusterId: true } },
} as const satisfies Prisma.PolicySelect;

/** GraphQL Int is 32-bit: a count beyond it is shown at the ceiling rather than failing the answer. */
const INT_MAX = 2_147_483_647;
const shown = (n: bigint) => (n > BigInt(INT_MAX) ? INT_MAX : Number(n));

/**
 * Per NATIVE cluster of a rollout page, the state of each misconfiguration policy its bundle
 * carries (only `policy`, when the rollout is a policy's; otherwise every one the caller
 * reads), with kube-apiserver's native check totals. Two reads for the whole page, whatever
 * its size. Webhook clusters get an empty list; vulnerability policies never compile.
 */
export async function nativePolicyStates(
  tx: TenantTx,
  principal: Principal,
  clusters: readonly NativeCluster[],
  policy: NativePolicyRef | undefined,
): Promise<Map<string, NativePolicyState[]>> {
  const result = new Map<string, NativePolicyState[]>(clusters.map((c) => [c.id, []]));
  const native = clusters.filter((c) => c.enforcementMode === 'NATIVE');
  if (!native.length) return result;
  const candidates = (
    policy
      ? [policy]
      : await tx.policy.findMany({
          where: { AND: [Visibility.of(principal).policies(), { type: 'MISCONFIGURATION' }] },
          select: policyRefSelect,
          orderBy: [{ name: 'asc' }, { id: 'asc' }],
        })
  ).filter((p) => p.type === 'MISCONFIGURATION');
  if (!candidates.length) return result;
  const scoped = candidates.map((p) => ({ policy: p, scope: policyScopeOf(p) }));
  const where = {
    clusterId: { in: native.map((c) => c.id) },
    policyId: { in: candidates.map((p) => p.id) },
  };
  // one connection per transaction: the two reads run one after the other
  const states = await tx.clusterNativePolicy.findMany({ where });
  const checks = await tx.clusterNativeCheck.findMany({
    where,
    select: { clusterId: true, policyId: true, ruleId: true, enforcementAction: true, total: true },
    orderBy: [{ ruleId: 'asc' }],
  });
  const key = (clusterId: string, policyId: string) => `${clusterId}/${policyId}`;
  const stateOf = new Map(states.map((s) => [key(s.clusterId, s.policyId), s]));
  const rulesOf = new Map<string, Map<string, { denied: bigint; warned: bigint; audited: bigint }>>();
  for (const c of checks) {
    const k = key(c.clusterId, c.policyId);
    const rules = rulesOf.get(k) ?? new Map<string, { denied: bigint; warned: bigint; audited: bigint }>();
    rulesOf.set(k, rules);
    const r = rules.get(c.ruleId) ?? { denied: 0n, warned: 0n, audited: 0n };
    rules.set(c.ruleId, r);
    if (c.enforcementAction === 'deny') r.denied += c.total;
    else if (c.enforcementAction === 'warn') r.warned += c.total;
    else r.audited += c.total;
  }
  for (const cluster of native) {
    const list = result.get(cluster.id)!;
    for (const { policy: p, scope } of scoped) {
      if (!scopeMatch(scope, cluster)) continue;
      const k = key(cluster.id, p.id);
      const rules = [...(rulesOf.get(k) ?? new Map())].map(([rule, n]) => ({ rule, ...n }));
      const sum = (pick: (r: { denied: bigint; warned: bigint; audited: bigint }) => bigint) =>
        shown(rules.reduce((acc, r) => acc + pick(r), 0n));
      list.push({
        policyId: p.id,
        policyName: p.name,
        ...reported(cluster, stateOf.get(k)),
        deniedCount: sum((r) => r.denied),
        warnedCount: sum((r) => r.warned),
        auditedCount: sum((r) => r.audited),
        rules: rules.map((r): NativeRuleChecks => ({
          rule: r.rule,
          deniedCount: shown(r.denied),
          warnedCount: shown(r.warned),
          auditedCount: shown(r.audited),
        })),
      });
    }
  }
  return result;
}

type Reported = Pick<NativePolicyState, 'state' | 'reason' | 'objects' | 'revision' | 'since' | 'unsupported'>;

/** The stored report when it is for the cluster's latest revision; PENDING (saying why) otherwise. */
function reported(cluster: NativeCluster, row: Prisma.ClusterNativePolicyGetPayload<object> | undefined): Reported {
  const latest = cluster.bundleRevision;
  if (row && latest !== null && row.revision >= latest)
    return {
      state: NativeEnforcementState[row.state],
      reason: row.reason,
      objects: row.objects,
      revision: row.revision,
      since: row.reportedAt,
      unsupported: unsupportedOf(row.unsupported),
    };
  const reason =
    latest === null
      ? 'no bundle has been issued to this cluster yet'
      : cluster.nativeRevision === null
        ? 'the agent has not reported native enforcement yet'
        : row
          ? `the agent last reported this policy for revision ${row.revision}; the latest is ${latest}`
          : cluster.nativeRevision >= latest
            ? `the agent's report for revision ${cluster.nativeRevision} does not include this policy yet`
            : `the agent last reported revision ${cluster.nativeRevision}; the latest is ${latest}`;
  return {
    state: NativeEnforcementState.PENDING,
    reason,
    objects: 0,
    revision: row?.revision ?? null,
    since: null,
    unsupported: [],
  };
}

/** Stored as the agent sent it, after the contract's checks. */
function unsupportedOf(value: Prisma.JsonValue): NativeUnsupported[] {
  if (!Array.isArray(value)) return [];
  return value.map((v) => {
    const u = (v ?? {}) as Record<string, unknown>;
    return {
      rule: typeof u['rule'] === 'string' ? u['rule'] : null,
      what: String(u['what'] ?? ''),
      reason: String(u['reason'] ?? ''),
    };
  });
}
