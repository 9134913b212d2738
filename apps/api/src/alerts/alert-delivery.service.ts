import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Alert } from '@portcullis/alerts';
import type { Prisma } from '@portcullis/db';
import { CLOCK, badInput, type Clock } from '@portcullis/platform';
import { AuditLogWriter } from '../audit/audit-log.writer';
import {
  decodeCursor,
  pageSize,
  toConnection,
  type Connection,
  NEWEST_FIRST,
  newestFirstAfter,
  newestFirstPosition,
} from '../graphql/connection';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility } from '../tenancy/visibility';
import { AlertDestinationService } from './alert-destination.service';
import { AlertDispatcher } from './alert-dispatcher';
import type { AlertDeliveriesArgs, AlertDelivery } from './alert.types';

const WITH_ALERT = {
  alert: { select: { severity: true, title: true } },
  destination: { select: { name: true, kind: true } },
} as const;
type Row = Prisma.AlertDeliveryGetPayload<{ include: typeof WITH_ALERT }>;

/** The delivery log (every reader, of the alerts in its scopes) and the test message (destination managers). */
@Injectable()
export class AlertDeliveryService {
  constructor(
    private readonly db: TenantDb,
    private readonly audit: AuditLogWriter,
    private readonly destinations: AlertDestinationService,
    private readonly dispatcher: AlertDispatcher,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  list(principal: Principal, args: AlertDeliveriesArgs): Promise<Connection<AlertDelivery>> {
    const f = args.filter ?? {};
    // scoped readers see alerts of their scopes; tenant-wide alerts (no scope) only tenant-level readers
    const scopes = Visibility.of(principal).scopeIds();
    const where: Prisma.AlertDeliveryWhereInput = {
      ...(scopes === 'all' ? {} : { cloudScopeId: { in: [...scopes] } }),
      ...(f.destinationId ? { destinationId: f.destinationId } : {}),
      ...(f.status ? { status: f.status } : {}),
      ...(f.kind ? { alertKind: f.kind } : {}),
      ...(f.clusterId ? { clusterId: f.clusterId } : {}),
      ...(f.since ? { createdAt: { gte: f.since } } : {}),
    };
    const after = decodeCursor(args.after);
    const size = pageSize(args);
    return this.db.run(principal, async (tx) => {
      const rows = await tx.alertDelivery.findMany({
        where: newestFirstAfter(where, after),
        include: WITH_ALERT,
        orderBy: NEWEST_FIRST,
        take: size + 1,
      });
      const total = await tx.alertDelivery.count({ where });
      return toConnection(rows, size, total, newestFirstPosition, toDelivery);
    });
  }

  /** Sends a TEST alert to one destination through the real queue and worker; returns its delivery (QUEUED). */
  async sendTest(principal: Principal, destinationId: string): Promise<AlertDelivery> {
    this.destinations.requireTenantAdmin(principal);
    const now = this.clock.now();
    const alert: Alert = {
      id: randomUUID(),
      tenantId: principal.tenantId,
      ruleId: null,
      ruleName: null,
      kind: 'TEST',
      severity: 'INFO',
      title: 'Portcullis test alert',
      summary: `A test message sent by ${principal.name ?? principal.objectId} to check this destination receives Portcullis alerts.`,
      occurredAt: now.toISOString(),
      count: 1,
    };
    const { delivery, pending } = await this.db.run(principal, async (tx) => {
      const destination = await this.destinations.live(tx, destinationId);
      if (!destination.enabled)
        throw badInput('destinationId', `destinationId: destination ${destinationId} is disabled; enable it first`);
      const pending = await this.dispatcher.persist({ tx }, alert, [destinationId]);
      await this.audit.record(tx, principal, {
        action: 'alertDestination.sendTest',
        targetType: 'AlertDestination',
        targetId: destinationId,
        after: { alertId: alert.id, name: destination.name },
      });
      const delivery = await tx.alertDelivery.findUniqueOrThrow({
        where: { alertId_destinationId: { alertId: alert.id, destinationId } },
        include: WITH_ALERT,
      });
      return { delivery, pending };
    });
    await this.dispatcher.enqueue(alert, pending);
    return toDelivery(delivery);
  }
}

function toDelivery(r: Row): AlertDelivery {
  return {
    id: r.id,
    alertId: r.alertId,
    alertKind: r.alertKind as AlertDelivery['alertKind'],
    severity: r.alert.severity,
    title: r.alert.title,
    destinationId: r.destinationId,
    destinationName: r.destination.name,
    destinationKind: r.destination.kind as AlertDelivery['destinationKind'],
    cloudScopeId: r.cloudScopeId,
    clusterId: r.clusterId,
    status: r.status as AlertDelivery['status'],
    attempts: r.attempts,
    lastHttpStatus: r.lastHttpStatus,
    lastError: r.lastError,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    nextAttemptAt: r.nextAttemptAt,
    deliveredAt: r.deliveredAt,
    deadAt: r.deadAt,
  };
}
