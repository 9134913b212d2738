import { Injectable } from '@nestjs/common';
import type { Prisma, TenantTx } from '@portcullis/db';
import { policyScopeOf, scopeMatch } from '@portcullis/distribution';
import { badInput } from '@portcullis/platform';
import { toCluster } from '../clusters/cluster.service';
import { decodeCursor, encodeCursor, type Position } from '../graphql/connection';
import { PolicyService } from '../policies/policy.service';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility, hidden } from '../tenancy/visibility';
import { nativePolicyStates, type NativePolicyRef } from './native-rollout';
import type { NativePolicyState } from './native-rollout.types';
import { ROLLOUT_PAGE, type BundleRollout, type BundleRolloutArgs, type ClusterRollout } from './bundle-rollout.types';

type ClusterRow = Prisma.ClusterGetPayload<{ include: { cloudScope: true } }>;

const isLive = (c: ClusterRow) => c.bundleRevision !== null && c.appliedRevision === c.bundleRevision;

/** Where each cluster a policy (or one cluster) covers stands with its bundle, a page at a time. */
@Injectable()
export class BundleRolloutService {
  constructor(
    private readonly db: TenantDb,
    private readonly policies: PolicyService,
  ) {}

  rollout(principal: Principal, args: BundleRolloutArgs): Promise<BundleRollout> {
    const { policyId, clusterId } = args;
    if ((policyId ? 1 : 0) + (clusterId ? 1 : 0) !== 1)
      throw badInput(policyId ? 'clusterId' : 'policyId', 'give exactly one of policyId or clusterId');
    const after = decodeCursor(args.after);
    const size = args.first ?? ROLLOUT_PAGE.default;
    return this.db.run(principal, async (tx) => {
      const { covered, policy } = await this.coveredClusters(tx, principal, args);
      const liveCount = covered.filter(isLive).length;
      const listed = pageAfter(
        covered.filter((c) => !args.onlyBehind || !isLive(c)),
        after,
      );
      const page = listed.slice(0, size);
      const since = await this.behindSince(
        tx,
        page.filter((c) => c.bundleRevision !== null && !isLive(c)),
      );
      const native = await nativePolicyStates(tx, principal, page, policy);
      const last = page[page.length - 1];
      return {
        clusters: page.map((c) => clusterRollout(c, since.get(c.id) ?? null, native.get(c.id) ?? [])),
        pageInfo: {
          hasNextPage: listed.length > size,
          endCursor: last ? encodeCursor({ key: last.name, id: last.id }) : null,
        },
        total: covered.length,
        live: liveCount,
        complete: liveCount === covered.length,
      };
    });
  }

  /** The clusters the caller reads that the policy covers, or the one cluster asked (hidden when it cannot read it). */
  private async coveredClusters(
    tx: TenantTx,
    principal: Principal,
    { policyId, clusterId }: BundleRolloutArgs,
  ): Promise<{ covered: ClusterRow[]; policy?: NativePolicyRef }> {
    const visible = await tx.cluster.findMany({
      where: Visibility.of(principal).clusters(),
      include: { cloudScope: true },
    });
    if (clusterId) {
      const one = visible.filter((c) => c.id === clusterId);
      if (!one.length) throw hidden('cluster', clusterId);
      return { covered: one };
    }
    const policy = await this.policies.load(tx, principal, policyId!);
    const scope = policyScopeOf(policy);
    return { covered: visible.filter((c) => scopeMatch(scope, c) !== null), policy };
  }

  /** One grouped read: for each lagging cluster, the issue time of the first revision it lacks. */
  private async behindSince(tx: TenantTx, behind: readonly ClusterRow[]): Promise<Map<string, Date>> {
    if (!behind.length) return new Map();
    const rows = await tx.$queryRaw<Array<{ cluster_id: string; since: Date }>>`
      SELECT b.cluster_id, min(b.issued_at) AS since
      FROM bundles b JOIN unnest(${behind.map((c) => c.id)}::uuid[], ${behind.map((c) => c.appliedRevision ?? 0)}::int[]) AS h(cluster_id, applied)
        ON b.cluster_id = h.cluster_id AND b.revision > h.applied
      GROUP BY b.cluster_id`;
    return new Map(rows.map((r) => [r.cluster_id, r.since]));
  }
}

/**
 * By name, then id, compared as plain strings like the cursor (not in SQL: the database's
 * collation may order names differently): the clusters after the cursor.
 */
function pageAfter(clusters: ClusterRow[], after: Position | undefined): ClusterRow[] {
  return clusters
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .filter((c) => !after || c.name > after.key || (c.name === after.key && c.id > after.id));
}

function clusterRollout(c: ClusterRow, behindSince: Date | null, nativePolicies: NativePolicyState[]): ClusterRollout {
  const latest = c.bundleRevision;
  const applied = c.appliedRevision;
  const live = isLive(c);
  return {
    cluster: toCluster(c),
    latestRevision: latest,
    appliedRevision: applied,
    lag: latest === null ? 0 : Math.max(0, latest - (applied ?? 0)),
    live,
    lastSeenAt: c.lastSeenAt,
    lastError: c.lastError,
    behindSince: live ? null : behindSince,
    agentVersion: c.agentVersion,
    spoolDepth: c.agentSpoolDepth,
    droppedEvents: c.agentDroppedEvents,
    agentReportedAt: c.agentReportedAt,
    enforcementMode: c.enforcementMode,
    nativeReconciledAt: c.nativeReconciledAt,
    nativeRevision: c.nativeRevision,
    nativeMetricsError: c.nativeMetricsError,
    nativePolicies,
  };
}
