import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  checkResolvedHost,
  checkUrlShape,
  destinationAad,
  displayHost,
  generateWebhookSecret,
  type DestinationKind,
} from '@portcullis/alerts';
import type { AppConfig } from '@portcullis/config';
import type { Prisma, TenantTx } from '@portcullis/db';
import {
  APP_CONFIG,
  CLOCK,
  badInput,
  conflict,
  forbidden,
  isUniqueViolation,
  notFound,
  type Clock,
} from '@portcullis/platform';
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
import { AlertDispatcher } from './alert-dispatcher';
import type {
  AlertDestination,
  AlertDestinationsArgs,
  AlertDestinationWithSecret,
  CreateAlertDestinationInput,
  UpdateAlertDestinationInput,
} from './alert.types';

type Row = Prisma.AlertDestinationGetPayload<object>;

/** Headers a token may not take over: they frame or sign the request. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);

/**
 * Alert destinations of a tenant: managed by OWNER or SECURITY_ADMIN at tenant level (a
 * destination receives alerts of every scope), audited without secrets. URL, secrets and
 * token are sealed with the deployment's key before they reach the database; lists show the
 * URL's host only.
 */
@Injectable()
export class AlertDestinationService {
  constructor(
    private readonly db: TenantDb,
    private readonly audit: AuditLogWriter,
    private readonly dispatcher: AlertDispatcher,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  requireTenantAdmin(principal: Principal): void {
    if (!principal.canTenantWide('manage'))
      throw forbidden('alert destinations need OWNER or SECURITY_ADMIN at tenant level');
  }

  /** Storing a URL or secret needs the deployment's encryption key. */
  private requireKey(): void {
    if (!this.dispatcher.box.configured)
      throw forbidden(
        'this deployment has no SECRETS_ENCRYPTION_KEYS: alert destinations cannot be stored until an operator sets it',
      );
  }

  /** https, no credentials, no forbidden address (as typed and as it resolves now); the connection checks again. */
  private async checkUrl(url: string, field: string): Promise<void> {
    const allowPrivate = this.config.alerts.allowPrivateDestinations;
    const shape = checkUrlShape(url, allowPrivate);
    if (shape) throw badInput(field, `${field}: the URL ${shape}`);
    const resolved = await checkResolvedHost(url, { allowPrivate });
    if (resolved) throw badInput(field, `${field}: the URL's ${resolved}: refused`);
  }

  private checkToken(
    kind: DestinationKind,
    header: string | undefined,
    token: string | undefined,
    prefix: string,
  ): void {
    if ((header === undefined) !== (token === undefined))
      throw badInput(
        `${prefix}.${header === undefined ? 'tokenHeader' : 'token'}`,
        `${prefix}: tokenHeader and token go together`,
      );
    if (header === undefined) return;
    if (kind !== 'SIEM')
      throw badInput(`${prefix}.tokenHeader`, `${prefix}.tokenHeader: only SIEM destinations carry a token`);
    if (RESERVED_HEADERS.has(header.toLowerCase()))
      throw badInput(`${prefix}.tokenHeader`, `${prefix}.tokenHeader: ${header} is set by Portcullis itself`);
  }

  private seal(tenantId: string, id: string, field: string, value: string): string {
    return this.dispatcher.box.seal(value, destinationAad(tenantId, id, field));
  }

  async create(principal: Principal, input: CreateAlertDestinationInput): Promise<AlertDestinationWithSecret> {
    this.requireTenantAdmin(principal);
    this.requireKey();
    await this.checkUrl(input.url, 'input.url');
    this.checkToken(input.kind, input.tokenHeader ?? undefined, input.token ?? undefined, 'input');
    const id = randomUUID();
    const tenantId = principal.tenantId;
    const secret = input.kind === 'WEBHOOK' ? generateWebhookSecret() : null;
    try {
      return await this.db.run(principal, async (tx) => {
        const row = await tx.alertDestination.create({
          data: {
            id,
            tenantId,
            name: input.name.trim(),
            kind: input.kind,
            enabled: input.enabled ?? true,
            urlEncrypted: this.seal(tenantId, id, 'url', input.url),
            urlHost: displayHost(input.url),
            secretEncrypted: secret ? this.seal(tenantId, id, 'secret', secret) : null,
            tokenHeader: input.tokenHeader ?? null,
            tokenEncrypted: input.token ? this.seal(tenantId, id, 'token', input.token) : null,
            rateLimitPerMinute: input.rateLimitPerMinute ?? this.config.alerts.rateLimitPerMinute,
            createdBy: principal.objectId,
          },
        });
        await this.audit.record(tx, principal, {
          action: 'alertDestination.create',
          targetType: 'AlertDestination',
          targetId: id,
          after: auditView(row),
        });
        return { destination: toDestination(row), secret };
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw conflict('input.name', `an alert destination named "${input.name.trim()}" exists`);
      throw err;
    }
  }

  async update(principal: Principal, id: string, input: UpdateAlertDestinationInput): Promise<AlertDestination> {
    this.requireTenantAdmin(principal);
    if (input.url != null || input.token != null) this.requireKey();
    if (input.url != null) await this.checkUrl(input.url, 'input.url');
    try {
      return await this.db.run(principal, async (tx) => {
        const row = await this.live(tx, id);
        if (input.clearToken && (input.token != null || input.tokenHeader != null))
          throw badInput('input.clearToken', 'input.clearToken: cannot clear and set the token at once');
        if (input.token != null || input.tokenHeader != null)
          this.checkToken(
            row.kind as DestinationKind,
            input.tokenHeader ?? row.tokenHeader ?? undefined,
            input.token ?? undefined,
            'input',
          );
        const tenantId = principal.tenantId;
        const data: Prisma.AlertDestinationUpdateInput = { updatedAt: this.clock.now() };
        if (input.name != null) data.name = input.name.trim();
        if (input.enabled != null) data.enabled = input.enabled;
        if (input.rateLimitPerMinute != null) data.rateLimitPerMinute = input.rateLimitPerMinute;
        if (input.url != null) {
          data.urlEncrypted = this.seal(tenantId, id, 'url', input.url);
          data.urlHost = displayHost(input.url);
        }
        if (input.clearToken) {
          data.tokenHeader = null;
          data.tokenEncrypted = null;
        } else if (input.token != null) {
          data.tokenHeader = input.tokenHeader ?? row.tokenHeader;
          data.tokenEncrypted = this.seal(tenantId, id, 'token', input.token);
        }
        const updated = await tx.alertDestination.update({ where: { id }, data });
        await this.audit.record(tx, principal, {
          action: 'alertDestination.update',
          targetType: 'AlertDestination',
          targetId: id,
          before: auditView(row),
          after: {
            ...auditView(updated),
            urlChanged: input.url != null,
            tokenChanged: input.token != null || Boolean(input.clearToken),
          },
        });
        return toDestination(updated);
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw conflict('input.name', `an alert destination named "${input.name?.trim()}" exists`);
      throw err;
    }
  }

  /** A new signing secret, shown once; the previous one keeps signing for `overlapHours`. */
  async rotateSecret(principal: Principal, id: string, overlapHours: number): Promise<AlertDestinationWithSecret> {
    this.requireTenantAdmin(principal);
    this.requireKey();
    return this.db.run(principal, async (tx) => {
      const row = await this.live(tx, id);
      if (row.kind !== 'WEBHOOK' || !row.secretEncrypted)
        throw badInput('id', `id: destination ${id} is ${row.kind}; only WEBHOOK destinations have a signing secret`);
      const tenantId = principal.tenantId;
      const previous = this.dispatcher.box.open(row.secretEncrypted, destinationAad(tenantId, id, 'secret'));
      const secret = generateWebhookSecret();
      const now = this.clock.now();
      const updated = await tx.alertDestination.update({
        where: { id },
        data: {
          secretEncrypted: this.seal(tenantId, id, 'secret', secret),
          previousSecretEncrypted: overlapHours > 0 ? this.seal(tenantId, id, 'previous_secret', previous) : null,
          previousSecretExpiresAt: overlapHours > 0 ? new Date(now.getTime() + overlapHours * 3_600_000) : null,
          secretRotatedAt: now,
          updatedAt: now,
        },
      });
      await this.audit.record(tx, principal, {
        action: 'alertDestination.rotateSecret',
        targetType: 'AlertDestination',
        targetId: id,
        after: { name: row.name, overlapHours, previousSecretExpiresAt: updated.previousSecretExpiresAt },
      });
      return { destination: toDestination(updated), secret };
    });
  }

  /** Soft delete: the delivery log keeps naming it; pending deliveries to it end DEAD. */
  async delete(principal: Principal, id: string): Promise<AlertDestination> {
    this.requireTenantAdmin(principal);
    return this.db.run(principal, async (tx) => {
      const row = await this.live(tx, id);
      const now = this.clock.now();
      const deleted = await tx.alertDestination.update({
        where: { id },
        data: {
          deletedAt: now,
          enabled: false,
          updatedAt: now,
          previousSecretEncrypted: null,
          previousSecretExpiresAt: null,
        },
      });
      await this.audit.record(tx, principal, {
        action: 'alertDestination.delete',
        targetType: 'AlertDestination',
        targetId: id,
        before: auditView(row),
      });
      return toDestination(deleted);
    });
  }

  async live(tx: TenantTx, id: string): Promise<Row> {
    const row = await tx.alertDestination.findUnique({ where: { id } });
    if (!row || row.deletedAt) throw notFound(`alert destination ${id} does not exist`);
    return row;
  }

  list(principal: Principal, args: AlertDestinationsArgs): Promise<Connection<AlertDestination>> {
    this.requireTenantAdmin(principal);
    const where: Prisma.AlertDestinationWhereInput = args.includeDeleted ? {} : { deletedAt: null };
    const after = decodeCursor(args.after);
    const size = pageSize(args);
    return this.db.run(principal, async (tx) => {
      const rows = await tx.alertDestination.findMany({
        where: newestFirstAfter(where, after),
        orderBy: NEWEST_FIRST,
        take: size + 1,
      });
      const total = await tx.alertDestination.count({ where });
      return toConnection(rows, size, total, newestFirstPosition, toDestination);
    });
  }
}

/** What the audit log keeps of a destination: never the URL, a secret or a token. */
function auditView(row: Row) {
  return {
    name: row.name,
    kind: row.kind,
    enabled: row.enabled,
    urlHost: row.urlHost,
    tokenHeader: row.tokenHeader,
    rateLimitPerMinute: row.rateLimitPerMinute,
  };
}

function toDestination(row: Row): AlertDestination {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as AlertDestination['kind'],
    enabled: row.enabled,
    urlHost: row.urlHost,
    tokenHeader: row.tokenHeader,
    rateLimitPerMinute: row.rateLimitPerMinute,
    secretRotatedAt: row.secretRotatedAt,
    previousSecretExpiresAt: row.previousSecretExpiresAt,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    updatedAt: row.updatedAt,
  };
}
