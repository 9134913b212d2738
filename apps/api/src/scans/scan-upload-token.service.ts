import { Injectable } from '@nestjs/common';
import type { Prisma } from '@portcullis/db';
import { CLOCK, forbidden, notFound, type Clock } from '@portcullis/platform';
import { Inject } from '@nestjs/common';
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
import type { ScanUploadToken, ScanUploadTokensArgs, ScanUploadTokenWithSecret } from './scan.types';
import { issueUploadToken } from './upload-token';

type Row = Prisma.ScanUploadTokenGetPayload<object>;

/** Tenant-wide CI credentials: created and revoked by an OWNER or SECURITY_ADMIN of the whole tenant, audited. */
@Injectable()
export class ScanUploadTokenService {
  constructor(
    private readonly db: TenantDb,
    private readonly audit: AuditLogWriter,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  private requireTenantAdmin(principal: Principal): void {
    // a token uploads artifacts for every cluster of the tenant: a role on one cloud scope is not enough
    if (!principal.canTenantWide('manage'))
      throw forbidden('scan upload tokens need OWNER or SECURITY_ADMIN at tenant level');
  }

  async create(principal: Principal, name: string): Promise<ScanUploadTokenWithSecret> {
    this.requireTenantAdmin(principal);
    const credential = issueUploadToken();
    return this.db.run(principal, async (tx) => {
      const row = await tx.scanUploadToken.create({
        data: {
          tenantId: principal.tenantId,
          name: name.trim(),
          tokenId: credential.tokenId,
          tokenHash: credential.secretHash,
          createdBy: principal.objectId,
        },
      });
      // the audit entry names the token, never its secret
      await this.audit.record(tx, principal, {
        action: 'scanUploadToken.create',
        targetType: 'ScanUploadToken',
        targetId: row.id,
        after: { name: row.name },
      });
      return { scanUploadToken: toToken(row), token: credential.token };
    });
  }

  async revoke(principal: Principal, id: string): Promise<ScanUploadToken> {
    this.requireTenantAdmin(principal);
    return this.db.run(principal, async (tx) => {
      const row = await tx.scanUploadToken.findUnique({ where: { id } });
      if (!row) throw notFound(`scan upload token ${id} does not exist`);
      if (row.revokedAt) return toToken(row); // revoking twice changes nothing
      const revoked = await tx.scanUploadToken.update({
        where: { id },
        data: { revokedAt: this.clock.now(), revokedBy: principal.objectId },
      });
      await this.audit.record(tx, principal, {
        action: 'scanUploadToken.revoke',
        targetType: 'ScanUploadToken',
        targetId: id,
        before: { name: row.name, revokedAt: null },
        after: { name: row.name, revokedAt: revoked.revokedAt },
      });
      return toToken(revoked);
    });
  }

  list(principal: Principal, args: ScanUploadTokensArgs): Promise<Connection<ScanUploadToken>> {
    this.requireTenantAdmin(principal);
    const where: Prisma.ScanUploadTokenWhereInput = args.includeRevoked ? {} : { revokedAt: null };
    const after = decodeCursor(args.after);
    const size = pageSize(args);
    return this.db.run(principal, async (tx) => {
      const rows = await tx.scanUploadToken.findMany({
        where: newestFirstAfter(where, after),
        orderBy: NEWEST_FIRST,
        take: size + 1,
      });
      const total = await tx.scanUploadToken.count({ where });
      return toConnection(rows, size, total, newestFirstPosition, toToken);
    });
  }
}

function toToken(row: Row): ScanUploadToken {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
    revokedBy: row.revokedBy,
  };
}
