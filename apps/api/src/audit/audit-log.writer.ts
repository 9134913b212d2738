import { Injectable } from '@nestjs/common';
import type { Prisma, TenantTx } from '@portcullis/db';
import { requestContext } from '@portcullis/platform';
import type { Principal } from '../tenancy/principal';

export interface AuditRecord {
  readonly action: string;
  readonly targetType: string;
  readonly targetId: string;
  readonly before?: unknown;
  readonly after?: unknown;
}

/** Writes the audit entry of a change inside the change's own transaction: both land or neither. */
@Injectable()
export class AuditLogWriter {
  async record(tx: TenantTx, principal: Principal, record: AuditRecord): Promise<void> {
    await tx.auditLogEntry.create({
      data: {
        tenantId: principal.tenantId,
        principalId: principal.objectId,
        principalName: principal.name,
        action: record.action,
        targetType: record.targetType,
        targetId: record.targetId,
        before: toJson(record.before),
        after: toJson(record.after),
        requestId: requestContext.current()?.requestId ?? null,
      },
    });
  }
}

function toJson(value: unknown): Prisma.InputJsonValue | undefined {
  return value === undefined || value === null
    ? undefined
    : (JSON.parse(JSON.stringify(value)) as Prisma.InputJsonValue);
}
