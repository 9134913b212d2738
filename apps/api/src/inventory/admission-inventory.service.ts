import { Inject, Injectable } from '@nestjs/common';
import { filterTerms } from '@portcullis/contracts';
import { InventoryStore, type StoredEvent } from '@portcullis/inventory';
import { CLOCK, badInput, type Clock } from '@portcullis/platform';
import { decodeCursor, pageSize, toConnection, type Connection } from '../graphql/connection';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility } from '../tenancy/visibility';
import {
  AdmissionDimension,
  type AdmissionEventNode,
  type AdmissionEventsArgs,
  type AdmissionGroup,
  type AdmissionSummary,
  type AdmissionSummaryArgs,
} from './inventory.types';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MAX_WINDOW_MS = 90 * DAY;
const MAX_GROUPS = 1000;

/** The admission inventory (raw events, newest first) and summaries from the hourly rollup. */
@Injectable()
export class AdmissionInventoryService {
  constructor(
    private readonly db: TenantDb,
    private readonly store: InventoryStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  events(principal: Principal, args: AdmissionEventsArgs): Promise<Connection<AdmissionEventNode>> {
    const f = args.filter ?? {};
    const to = f.to ?? this.clock.now();
    const from = f.from ?? new Date(to.getTime() - 7 * DAY);
    if (from >= to) throw badInput('filter.from', 'filter.from must be before filter.to');
    if (to.getTime() - from.getTime() > MAX_WINDOW_MS)
      throw badInput('filter.from', 'filter: the time range is at most 90 days');
    // every filter but time and decision is a term of the GIN index
    const terms = filterTerms(f);
    // the scope filter narrows the readable scopes; a scope the caller cannot read yields nothing
    const scope = Visibility.of(principal).sql(undefined, f.cloudScopeId);
    const after = decodeCursor(args.after);
    const afterAt = after ? new Date(after.key) : undefined;
    if (after && Number.isNaN(afterAt!.getTime())) throw badInput('after', 'is not a cursor returned by this list');
    const size = pageSize(args);
    return this.db.run(principal, async (tx) => {
      const { rows, total } = await this.store.events(tx, {
        from,
        to,
        scope,
        terms,
        decision: f.decision,
        after: after && { at: afterAt!, id: after.id },
        limit: size,
      });
      return toConnection(rows, size, total, (r) => ({ key: r.occurred_at.toISOString(), id: r.event_id }), toNode);
    });
  }

  summary(principal: Principal, args: AdmissionSummaryArgs): Promise<AdmissionSummary> {
    const now = this.clock.now().getTime();
    const from = new Date(Math.floor((args.window?.from.getTime() ?? now - DAY) / HOUR) * HOUR);
    const to = new Date(Math.ceil((args.window?.to.getTime() ?? now) / HOUR) * HOUR);
    if (from >= to) throw badInput('window.from', 'window.from must be before window.to');
    if (to.getTime() - from.getTime() > MAX_WINDOW_MS) throw badInput('window', 'window: at most 90 days');
    const dims = [...new Set(args.groupBy)];
    if (dims.includes(AdmissionDimension.HOUR) && dims.includes(AdmissionDimension.DAY))
      throw badInput('groupBy', 'groupBy: HOUR and DAY exclude each other');
    const view = Visibility.of(principal);
    return this.db.run(principal, async (tx) => {
      const { groups, total } = await this.store.summary(tx, { from, to, dims, scope: view.sql(), limit: MAX_GROUPS });
      return {
        window: { from, to },
        groupBy: dims,
        groups: groups
          .filter((g) => g.admissions > 0)
          .map((g) => ({ ...g, decision: g.decision as AdmissionGroup['decision'] })),
        totalAdmissions: total,
      };
    });
  }
}

function toNode(r: StoredEvent): AdmissionEventNode {
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
    findings: r.findings as AdmissionEventNode['findings'],
    hasSnapshot: r.has_snapshot,
  };
}
