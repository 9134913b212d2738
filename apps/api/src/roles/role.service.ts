import { Injectable } from '@nestjs/common';
import type { Prisma, TenantTx } from '@portcullis/db';
import { badInput, conflict, forbidden, isUniqueViolation } from '@portcullis/platform';
import { AuditLogWriter } from '../audit/audit-log.writer';
import { toCloudScope } from '../cloud-scopes/cloud-scope.service';
import { decodeCursor, pageSize, toConnection, type Connection } from '../graphql/connection';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility, hidden } from '../tenancy/visibility';
import type { AssignRoleInput, RoleAssignment, RoleAssignmentsArgs } from './role.types';

const withScope = { cloudScope: true } as const;
type Row = Prisma.RoleAssignmentGetPayload<{ include: typeof withScope }>;

/**
 * Role assignments. Owners manage them: a tenant-level Owner anywhere, a scope-level
 * Owner only on its scope. Readers of a scope see the assignments on it.
 */
@Injectable()
export class RoleService {
  constructor(
    private readonly db: TenantDb,
    private readonly audit: AuditLogWriter,
  ) {}

  list(principal: Principal, args: RoleAssignmentsArgs): Promise<Connection<RoleAssignment>> {
    const f = args.filter ?? {};
    // the scope filter narrows what the caller reads; it never replaces it
    const where: Prisma.RoleAssignmentWhereInput = {
      AND: [
        Visibility.of(principal).roleAssignments(f.cloudScopeId),
        f.principalId ? { principalId: f.principalId.toLowerCase() } : {},
        f.role ? { role: f.role } : {},
      ],
    };
    const after = decodeCursor(args.after);
    const size = pageSize(args);
    return this.db.run(principal, async (tx) => {
      // one connection per transaction: statements run one after the other
      const rows = await tx.roleAssignment.findMany({
        where: after
          ? {
              AND: [
                where,
                {
                  OR: [
                    { createdAt: { gt: new Date(after.key) } },
                    { createdAt: new Date(after.key), id: { gt: after.id } },
                  ],
                },
              ],
            }
          : where,
        include: withScope,
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        take: size + 1,
      });
      const total = await tx.roleAssignment.count({ where });
      return toConnection(rows, size, total, (r) => ({ key: r.createdAt.toISOString(), id: r.id }), toRoleAssignment);
    });
  }

  async assign(principal: Principal, input: AssignRoleInput): Promise<RoleAssignment> {
    const scopeId = input.cloudScopeId ?? null;
    // a scope the caller cannot read answers as one that does not exist
    if (scopeId && !Visibility.of(principal).canRead(scopeId)) throw unknownScope(scopeId);
    this.requireOwner(principal, scopeId);
    try {
      return await this.db.run(principal, async (tx) => {
        if (scopeId && !(await tx.cloudScope.findUnique({ where: { id: scopeId } }))) throw unknownScope(scopeId);
        const row = await tx.roleAssignment.create({
          data: {
            tenantId: principal.tenantId,
            principalId: input.principalId.toLowerCase(),
            role: input.role,
            cloudScopeId: scopeId,
            createdBy: principal.objectId,
          },
          include: withScope,
        });
        const result = toRoleAssignment(row);
        await this.audit.record(tx, principal, {
          action: 'role.assign',
          targetType: 'RoleAssignment',
          targetId: row.id,
          after: snapshot(result),
        });
        return result;
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw conflict(
          'principalId',
          `principalId: ${input.principalId} already holds ${input.role} ${scopeId ? `on cloud scope ${scopeId}` : 'at tenant level'}`,
        );
      throw err;
    }
  }

  async revoke(principal: Principal, id: string): Promise<RoleAssignment> {
    return this.db.run(principal, async (tx) => {
      const row = await tx.roleAssignment.findUnique({ where: { id }, include: withScope });
      if (!row || !Visibility.of(principal).canRead(row.cloudScopeId)) throw hidden('role assignment', id);
      this.requireOwner(principal, row.cloudScopeId);
      if (row.role === 'OWNER' && row.cloudScopeId === null) await this.keepOneTenantOwner(tx, row.id);
      await tx.roleAssignment.delete({ where: { id } });
      const result = toRoleAssignment(row);
      await this.audit.record(tx, principal, {
        action: 'role.revoke',
        targetType: 'RoleAssignment',
        targetId: id,
        before: snapshot(result),
      });
      return result;
    });
  }

  /** The tenant must keep at least one tenant-level Owner; the lock makes two concurrent revokes safe. */
  private async keepOneTenantOwner(tx: TenantTx, revoking: string): Promise<void> {
    const owners = await tx.$queryRaw<Array<{ id: string }>>`
      SELECT id FROM role_assignments WHERE role = 'OWNER' AND cloud_scope_id IS NULL FOR UPDATE`;
    if (owners.filter((o) => o.id !== revoking).length === 0) {
      throw conflict('id', 'this is the last tenant-level OWNER of the tenant; assign another OWNER first');
    }
  }

  private requireOwner(principal: Principal, scopeId: string | null): void {
    const ok = scopeId === null ? principal.canTenantWide('administer') : principal.canOnScope('administer', scopeId);
    if (!ok)
      throw forbidden(
        scopeId === null
          ? 'tenant-level role assignments need OWNER at tenant level'
          : 'role assignments on this cloud scope need OWNER on it or at tenant level',
      );
  }
}

function toRoleAssignment(row: Row): RoleAssignment {
  return {
    id: row.id,
    principalId: row.principalId,
    role: row.role,
    cloudScope: row.cloudScope ? toCloudScope(row.cloudScope) : null,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
  };
}

function unknownScope(id: string) {
  return badInput('cloudScopeId', `cloudScopeId: cloud scope ${id} does not exist`);
}

function snapshot(r: RoleAssignment) {
  return { principalId: r.principalId, role: r.role, cloudScopeId: r.cloudScope?.id ?? null };
}
