import { Args, ArgsType, Field, ID, Int, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { IsBoolean, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import { scopeMatch } from '@portcullis/distribution';
import { badInput } from '@portcullis/platform';
import { Cluster } from '../clusters/cluster.types';
import { PageInfo, decodeCursor, encodeCursor } from '../graphql/connection';
import { toCluster } from '../clusters/cluster.service';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility, hidden } from '../tenancy/visibility';
import { PolicyService } from '../policies/policy.service';

@ObjectType({ description: 'Where one cluster stands with its bundle.' })
export class ClusterRollout {
  @Field(() => Cluster)
  cluster!: Cluster;

  @Field(() => Int, { nullable: true, description: 'Latest revision compiled and signed for the cluster.' })
  latestRevision!: number | null;

  @Field(() => Int, { nullable: true, description: 'Revision the agent reports it enforces.' })
  appliedRevision!: number | null;

  @Field(() => Int, { description: 'Revisions the agent is behind (0 = live).' })
  lag!: number;

  @Field({ description: 'The agent enforces the latest revision.' })
  live!: boolean;

  @Field(() => Date, { nullable: true })
  lastSeenAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'Last error the agent reported.' })
  lastError!: string | null;

  @Field(() => Date, {
    nullable: true,
    description: 'When the oldest revision the agent does not enforce yet was issued: how long the cluster has been behind (null when live).',
  })
  behindSince!: Date | null;

  @Field(() => String, { nullable: true, description: 'Agent version from its last status report.' })
  agentVersion!: string | null;

  @Field(() => Int, { nullable: true, description: 'Admission events waiting in the agent\'s spool at its last report.' })
  spoolDepth!: number | null;

  @Field(() => Int, { nullable: true, description: 'Admission events the agent dropped (spool full) since it started: missing from the inventory.' })
  droppedEvents!: number | null;

  @Field(() => Date, { nullable: true, description: 'The agent\'s own clock at its last report (compare with lastSeenAt for skew).' })
  agentReportedAt!: Date | null;
}

@ObjectType({ description: 'Is a change live everywhere? Per cluster: latest revision, applied revision, lag.' })
export class BundleRollout {
  @Field(() => [ClusterRollout], { description: 'One page of the clusters, by name (only those not live with onlyBehind).' })
  clusters!: ClusterRollout[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int, { description: 'Clusters the policy (or the cluster asked) covers, over all pages.' })
  total!: number;

  @Field(() => Int, { description: 'Clusters, over all pages, that enforce their latest revision.' })
  live!: number;

  @Field({ description: 'Every cluster enforces its latest revision.' })
  complete!: boolean;
}

/** A tenant may run thousands of clusters: the rollout is read a page at a time. */
export const ROLLOUT_PAGE = { default: 200, max: 1000 } as const;

@ArgsType()
export class BundleRolloutArgs {
  @Field(() => ID, { nullable: true, description: 'The clusters this policy covers. Exactly one of policyId and clusterId.' })
  @IsOptional()
  @IsUUID('all', { message: 'policyId must be a UUID' })
  policyId?: string;

  @Field(() => ID, { nullable: true, description: 'This one cluster.' })
  @IsOptional()
  @IsUUID('all', { message: 'clusterId must be a UUID' })
  clusterId?: string;

  @Field({ nullable: true, description: 'Only clusters that do not enforce their latest revision yet (totals still count all).' })
  @IsOptional()
  @IsBoolean()
  onlyBehind?: boolean;

  @Field(() => Int, { nullable: true, description: `Page size, 1-${ROLLOUT_PAGE.max} (default ${ROLLOUT_PAGE.default}).` })
  @IsOptional()
  @Min(1, { message: 'first must be at least 1' })
  @Max(ROLLOUT_PAGE.max, { message: `first must be at most ${ROLLOUT_PAGE.max}` })
  first?: number;

  @Field(() => String, { nullable: true, description: 'pageInfo.endCursor of the previous page.' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  after?: string;
}

@Resolver(() => BundleRollout)
export class BundleRolloutResolver {
  constructor(
    private readonly db: TenantDb,
    private readonly policies: PolicyService,
  ) {}

  @Access('read')
  @Query(() => BundleRollout)
  bundleRollout(@CurrentPrincipal() principal: Principal, @Args() args: BundleRolloutArgs): Promise<BundleRollout> {
    const { policyId, clusterId } = args;
    if ((policyId ? 1 : 0) + (clusterId ? 1 : 0) !== 1) throw badInput(policyId ? 'clusterId' : 'policyId', 'give exactly one of policyId or clusterId');
    const after = decodeCursor(args.after);
    const size = args.first ?? ROLLOUT_PAGE.default;
    return this.db.run(principal, async (tx) => {
      const visible = await tx.cluster.findMany({ where: Visibility.of(principal).clusters(), include: { cloudScope: true } });
      let clusters = visible;
      if (clusterId) {
        clusters = visible.filter((c) => c.id === clusterId);
        if (!clusters.length) throw hidden('cluster', clusterId);
      } else {
        const policy = await this.policies.load(tx, principal, policyId!);
        const scoped = { id: policy.id, cloudScopeIds: policy.cloudScopes.map((s) => s.cloudScopeId), clusterIds: policy.clusters.map((c) => c.clusterId) };
        clusters = visible.filter((c) => scopeMatch(scoped, c) !== null);
      }
      const isLive = (c: (typeof clusters)[number]) => c.bundleRevision !== null && c.appliedRevision === c.bundleRevision;
      const total = clusters.length;
      const liveCount = clusters.filter(isLive).length;
      // by name, then id, compared as plain strings like the cursor (not in SQL: the database's
      // collation may order names differently): the page after the cursor
      const listed = clusters
        .filter((c) => !args.onlyBehind || !isLive(c))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .filter((c) => !after || c.name > after.key || (c.name === after.key && c.id > after.id));
      clusters = listed.slice(0, size);
      const hasNextPage = listed.length > size;
      const behind = clusters.filter((c) => c.bundleRevision !== null && !isLive(c));
      // one grouped read: for each lagging cluster, the issue time of the first revision it lacks
      const since = behind.length
        ? await tx.$queryRaw<Array<{ cluster_id: string; since: Date }>>`
            SELECT b.cluster_id, min(b.issued_at) AS since
            FROM bundles b JOIN unnest(${behind.map((c) => c.id)}::uuid[], ${behind.map((c) => c.appliedRevision ?? 0)}::int[]) AS h(cluster_id, applied)
              ON b.cluster_id = h.cluster_id AND b.revision > h.applied
            GROUP BY b.cluster_id`
        : [];
      const sinceBy = new Map(since.map((r) => [r.cluster_id, r.since]));
      const rows = clusters.map((c): ClusterRollout => {
        const latest = c.bundleRevision;
        const applied = c.appliedRevision;
        const lag = latest === null ? 0 : Math.max(0, latest - (applied ?? 0));
        const live = isLive(c);
        return {
          cluster: toCluster(c),
          latestRevision: latest,
          appliedRevision: applied,
          lag,
          live,
          lastSeenAt: c.lastSeenAt,
          lastError: c.lastError,
          behindSince: live ? null : (sinceBy.get(c.id) ?? null),
          agentVersion: c.agentVersion,
          spoolDepth: c.agentSpoolDepth,
          droppedEvents: c.agentDroppedEvents,
          agentReportedAt: c.agentReportedAt,
        };
      });
      const last = clusters[clusters.length - 1];
      return {
        clusters: rows,
        pageInfo: { hasNextPage, endCursor: last ? encodeCursor({ key: last.name, id: last.id }) : null },
        total,
        live: liveCount,
        complete: liveCount === total,
      };
    });
  }
}
