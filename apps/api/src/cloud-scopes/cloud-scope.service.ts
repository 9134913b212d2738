import { Injectable } from '@nestjs/common';
import type { Prisma, CloudScope as CloudScopeRow } from '@portcullis/db';
import { AuditLogWriter } from '../audit/audit-log.writer';
import { decodeCursor, pageSize, toConnection, type Connection } from '../graphql/connection';
import { badInput, conflict, forbidden, isUniqueViolation } from '@portcullis/platform';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility, hidden } from '../tenancy/visibility';
import type { CloudScope, CloudScopesArgs, CreateCloudScopeInput, UpdateCloudScopeInput } from './cloud-scope.types';
import { normalizeProviderId } from './provider-ids';
import { containingAnyCase } from '../platform/substring-filter';

@Injectable()
export class CloudScopeService {
  constructor(
    private readonly db: TenantDb,
    private readonly audit: AuditLogWriter,
  ) {}

  list(principal: Principal, args: CloudScopesArgs): Promise<Connection<CloudScope>> {
    const where: Prisma.CloudScopeWhereInput = {
      AND: [
        Visibility.of(principal).cloudScopes(),
        args.filter?.provider ? { provider: args.filter.provider } : {},
        args.filter?.search
          ? {
              OR: [
                { displayName: containingAnyCase(args.filter.search) },
                { externalId: containingAnyCase(args.filter.search) },
              ],
            }
          : {},
      ],
    };
    const after = decodeCursor(args.after);
    const size = pageSize(args);
    return this.db.run(principal, async (tx) => {
      // one connection per transaction: statements run one after the other
      const rows = await tx.cloudScope.findMany({
        where: after
          ? {
              AND: [
                where,
                { OR: [{ displayName: { gt: after.key } }, { displayName: after.key, id: { gt: after.id } }] },
              ],
            }
          : where,
        orderBy: [{ displayName: 'asc' }, { id: 'asc' }],
        take: size + 1,
      });
      const total = await tx.cloudScope.count({ where });
      return toConnection(rows, size, total, (r) => ({ key: r.displayName, id: r.id }), toCloudScope);
    });
  }

  async create(principal: Principal, input: CreateCloudScopeInput): Promise<CloudScope> {
    if (!principal.canTenantWide('manage'))
      throw forbidden('adding a cloud scope needs SECURITY_ADMIN or OWNER at tenant level');
    const id = normalizeProviderId(input.provider, input.externalId);
    if (!id.ok) throw badInput('externalId', `externalId: ${id.message}`);
    try {
      return await this.db.run(principal, async (tx) => {
        const row = await tx.cloudScope.create({
          data: {
            tenantId: principal.tenantId,
            provider: input.provider,
            externalId: id.id,
            displayName: input.displayName.trim(),
          },
        });
        await this.audit.record(tx, principal, {
          action: 'cloudScope.create',
          targetType: 'CloudScope',
          targetId: row.id,
          after: toCloudScope(row),
        });
        return toCloudScope(row);
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw conflict('externalId', `externalId: ${input.provider} ${id.id} is already a cloud scope of this tenant`);
      throw err;
    }
  }

  async update(principal: Principal, scopeId: string, input: UpdateCloudScopeInput): Promise<CloudScope> {
    if (!principal.canOnScope('manage', scopeId)) throw this.denied(principal, scopeId);
    return this.db.run(principal, async (tx) => {
      const before = await tx.cloudScope.findUnique({ where: { id: scopeId } });
      if (!before) throw hidden('cloud scope', scopeId);
      const row = await tx.cloudScope.update({
        where: { id: scopeId },
        data: { displayName: input.displayName.trim() },
      });
      await this.audit.record(tx, principal, {
        action: 'cloudScope.update',
        targetType: 'CloudScope',
        targetId: row.id,
        before: toCloudScope(before),
        after: toCloudScope(row),
      });
      return toCloudScope(row);
    });
  }

  async delete(principal: Principal, scopeId: string): Promise<CloudScope> {
    if (!principal.canTenantWide('manage'))
      throw this.denied(principal, scopeId, 'removing a cloud scope needs SECURITY_ADMIN or OWNER at tenant level');
    return this.db.run(principal, async (tx) => {
      const before = await tx.cloudScope.findUnique({
        where: { id: scopeId },
        include: { _count: { select: { clusters: true, policies: true } } },
      });
      if (!before) throw hidden('cloud scope', scopeId);
      if (before._count.clusters > 0)
        throw conflict(
          'id',
          `cloud scope ${before.displayName} still has ${before._count.clusters} cluster(s); delete or move them first`,
        );
      if (before._count.policies > 0)
        throw conflict(
          'id',
          `cloud scope ${before.displayName} is named in the scope of ${before._count.policies} policy(ies); change them first`,
        );
      await tx.cloudScope.delete({ where: { id: scopeId } });
      await this.audit.record(tx, principal, {
        action: 'cloudScope.delete',
        targetType: 'CloudScope',
        targetId: scopeId,
        before: toCloudScope(before),
      });
      return toCloudScope(before);
    });
  }

  /** Not-found and forbidden look the same to a caller who cannot read the scope. */
  private denied(
    principal: Principal,
    scopeId: string,
    message = 'this needs SECURITY_ADMIN or OWNER on the cloud scope',
  ) {
    return Visibility.of(principal).canRead(scopeId) ? forbidden(message) : hidden('cloud scope', scopeId);
  }
}

export function toCloudScope(row: CloudScopeRow): CloudScope {
  return {
    id: row.id,
    provider: row.provider,
    externalId: row.externalId,
    displayName: row.displayName,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
