import { Args, Query, Resolver } from '@nestjs/graphql';
import type { Prisma } from '@portcullis/db';
import { forbidden } from '@portcullis/platform';
import { ConnectionType, decodeCursor, pageSize, toConnection } from '../graphql/connection';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { AuditLogArgs, AuditLogEntry } from './audit-log.types';

const AuditLogConnection = ConnectionType(AuditLogEntry, 'AuditLogEntry');

@Resolver(() => AuditLogEntry)
export class AuditLogResolver {
  constructor(private readonly db: TenantDb) {}

  /** Newest first. Entries are tenant-wide facts, so reading them needs a tenant-level role. */
  @Access('read')
  @Query(() => AuditLogConnection)
  auditLog(@CurrentPrincipal() principal: Principal, @Args() args: AuditLogArgs) {
    if (!principal.canTenantWide('read'))
      throw forbidden('the audit log needs a role at tenant level (SECURITY_READER or above)');
    const f = args.filter ?? {};
    const where: Prisma.AuditLogEntryWhereInput = {
      ...(f.action ? { action: f.action } : {}),
      ...(f.targetType ? { targetType: f.targetType } : {}),
      ...(f.targetId ? { targetId: f.targetId } : {}),
      ...(f.principalId ? { principalId: f.principalId } : {}),
      ...(f.from || f.to ? { occurredAt: { ...(f.from ? { gte: f.from } : {}), ...(f.to ? { lt: f.to } : {}) } } : {}),
    };
    const after = decodeCursor(args.after);
    const size = pageSize(args);
    return this.db.run(principal, async (tx) => {
      // one connection per transaction: statements run one after the other
      const rows = await tx.auditLogEntry.findMany({
        where: after ? { AND: [where, { id: { lt: BigInt(after.id) } }] } : where,
        orderBy: { id: 'desc' },
        take: size + 1,
      });
      const total = await tx.auditLogEntry.count({ where });
      return toConnection(
        rows,
        size,
        total,
        (r) => ({ key: r.occurredAt.toISOString(), id: r.id.toString() }),
        (r) => ({ ...r, id: r.id.toString() }),
      );
    });
  }
}
