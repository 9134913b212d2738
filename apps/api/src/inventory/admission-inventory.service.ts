import { Inject, Injectable } from '@nestjs/common';
import { filterTerms } from '@portcullis/contracts';
import { Prisma } from '@portcullis/db';
import { CLOCK, badInput, type Clock } from '@portcullis/platform';
import { decodeCursor, pageSize, toConnection, type Connection } from '../graphql/connection';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility } from '../tenancy/visibility';
import { AdmissionDimension, type AdmissionEventNode, type AdmissionEventsArgs, type AdmissionGroup, type AdmissionSummary, type AdmissionSummaryArgs } from './inventory.types';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MAX_WINDOW_MS = 90 * DAY;
const MAX_GROUPS = 1000;

interface EventRow {
  event_id: string;
  occurred_at: Date;
  received_at: Date;
  cluster_id: string;
  cloud_scope_id: string;
  namespace: string;
  kind: string;
  api_version: string;
  name: string;
  operation: string;
  dry_run: boolean;
  decision: string;
  bundle_revision: number | null;
  owner_kind: string;
  owner_name: string;
  username: string;
  images: string[];
  findings: AdmissionEventNode['findings'];
  has_snapshot: boolean;
}

/** The admission inventory (raw events, newest first) and summaries from the hourly rollup. */
@Injectable()
export class AdmissionInventoryService {
  constructor(
    private readonly db: TenantDb,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  events(principal: Principal, args: AdmissionEventsArgs): Promise<Connection<AdmissionEventNode>> {
    const f = args.filter ?? {};
    const to = f.to ?? this.clock.now();
    const from = f.from ?? new Date(to.getTime() - 7 * DAY);
    if (from >= to) throw badInput('filter.from', 'filter.from must be before filter.to');
    if (to.getTime() - from.getTime() > MAX_WINDOW_MS) throw badInput('filter.from', 'filter: the time range is at most 90 days');
    // every filter but time and decision is a term of the GIN index
    const terms = filterTerms(f);
    // the scope filter narrows the readable scopes; a scope the caller cannot read yields nothing
    const where = Prisma.sql`occurred_at >= ${from} AND occurred_at < ${to} AND ${Visibility.of(principal).sql(undefined, f.cloudScopeId)}
      ${terms.length ? Prisma.sql`AND terms @> ${terms}::text[]` : Prisma.empty}
      ${f.decision ? Prisma.sql`AND decision = ${f.decision}` : Prisma.empty}`;
    const after = decodeCursor(args.after);
    const afterAt = after ? new Date(after.key) : undefined;
    if (after && Number.isNaN(afterAt!.getTime())) throw badInput('after', 'is not a cursor returned by this list');
    const size = pageSize(args);
    return this.db.run(principal, async (tx) => {
      const rows = await tx.$queryRaw<EventRow[]>`
        SELECT event_id, occurred_at, received_at, cluster_id, cloud_scope_id, namespace, kind, api_version, name, operation, dry_run,
               decision, bundle_revision, owner_kind, owner_name, username, images, findings,
               -- an event may refer to a snapshot id the tenant does not hold (the ingest reports it to the agent)
               EXISTS (SELECT 1 FROM admission_snapshots s WHERE s.tenant_id = e.tenant_id AND s.hash = e.snapshot_hash) AS has_snapshot
        FROM admission_events e WHERE ${where}
        ${after ? Prisma.sql`AND (occurred_at, event_id) < (${afterAt}, ${after.id}::uuid)` : Prisma.empty}
        ORDER BY occurred_at DESC, event_id DESC LIMIT ${size + 1}`;
      const [{ n }] = await tx.$queryRaw<[{ n: number }]>`SELECT count(*)::int AS n FROM admission_events WHERE ${where}`;
      return toConnection(rows, size, n, (r) => ({ key: r.occurred_at.toISOString(), id: r.event_id }), toNode);
    });
  }

  summary(principal: Principal, args: AdmissionSummaryArgs): Promise<AdmissionSummary> {
    const now = this.clock.now().getTime();
    const from = new Date(Math.floor((args.window?.from.getTime() ?? now - DAY) / HOUR) * HOUR);
    const to = new Date(Math.ceil((args.window?.to.getTime() ?? now) / HOUR) * HOUR);
    if (from >= to) throw badInput('window.from', 'window.from must be before window.to');
    if (to.getTime() - from.getTime() > MAX_WINDOW_MS) throw badInput('window', 'window: at most 90 days');
    const dims = [...new Set(args.groupBy)];
    if (dims.includes(AdmissionDimension.HOUR) && dims.includes(AdmissionDimension.DAY)) throw badInput('groupBy', 'groupBy: HOUR and DAY exclude each other');
    const level = dims.includes(AdmissionDimension.RULE)
      ? Prisma.sql`policy_id <> '' AND rule_id <> ''`
      : dims.includes(AdmissionDimension.POLICY)
        ? Prisma.sql`policy_id <> '' AND rule_id = ''`
        : Prisma.sql`policy_id = ''`;
    const columns = dims.map((d) => Prisma.raw(`${COLUMN[d]} AS ${ALIAS[d]}`));
    const groupBy = dims.map((d) => Prisma.raw(ALIAS[d]));
    const view = Visibility.of(principal);
    return this.db.run(principal, async (tx) => {
      const rows = await tx.$queryRaw<Array<Record<string, unknown> & { admissions: number }>>`
        SELECT ${Prisma.join([...columns, Prisma.sql`sum(admissions)::int AS admissions`])}
        FROM admission_rollups_hourly
        WHERE hour >= ${from} AND hour < ${to} AND ${level} AND ${view.sql()}
        ${groupBy.length ? Prisma.sql`GROUP BY ${Prisma.join(groupBy)}` : Prisma.empty}
        ORDER BY admissions DESC LIMIT ${MAX_GROUPS}`;
      const [{ total }] = await tx.$queryRaw<[{ total: number }]>`
        SELECT coalesce(sum(admissions), 0)::int AS total FROM admission_rollups_hourly
        WHERE hour >= ${from} AND hour < ${to} AND policy_id = '' AND ${view.sql()}`;
      const groups: AdmissionGroup[] = rows.filter((r) => r.admissions > 0).map((r) => ({
        cloudScopeId: (r['cloud_scope'] as string | undefined) ?? null,
        clusterId: (r['cluster'] as string | undefined) ?? null,
        namespace: (r['ns'] as string | undefined) ?? null,
        policyId: (r['policy'] as string | undefined) ?? null,
        ruleId: (r['rule'] as string | undefined) ?? null,
        decision: (r['decision'] as AdmissionGroup['decision']) ?? null,
        period: (r['period'] as Date | undefined) ?? null,
        admissions: r.admissions,
      }));
      return { window: { from, to }, groupBy: dims, groups, totalAdmissions: total };
    });
  }
}

const COLUMN: Record<AdmissionDimension, string> = {
  CLOUD_SCOPE: 'cloud_scope_id',
  CLUSTER: 'cluster_id',
  NAMESPACE: 'namespace',
  POLICY: 'policy_id',
  RULE: 'rule_id',
  DECISION: 'decision',
  HOUR: 'hour',
  DAY: "date_trunc('day', hour, 'UTC')",
};
const ALIAS: Record<AdmissionDimension, string> = {
  CLOUD_SCOPE: 'cloud_scope',
  CLUSTER: 'cluster',
  NAMESPACE: 'ns',
  POLICY: 'policy',
  RULE: 'rule',
  DECISION: 'decision',
  HOUR: 'period',
  DAY: 'period',
};

function toNode(r: EventRow): AdmissionEventNode {
  return {
    eventId: r.event_id,
    occurredAt: r.occurred_at,
    receivedAt: r.received_at,
    clusterId: r.cluster_id,
    cloudScopeId: r.cloud_scope_id,
    namespace: r.namespace === '' ? null : r.namespace,
    kind: r.kind,
    apiVersion: r.api_version,
    name: r.name,
    operation: r.operation,
    dryRun: r.dry_run,
    decision: r.decision as AdmissionEventNode['decision'],
    bundleRevision: r.bundle_revision,
    owner: { kind: r.owner_kind, name: r.owner_name },
    username: r.username,
    images: r.images,
    findings: r.findings,
    hasSnapshot: r.has_snapshot,
  };
}
