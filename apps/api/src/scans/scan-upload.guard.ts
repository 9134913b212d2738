import { Inject, Injectable, createParamDecorator, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { PrismaClient } from '@portcullis/db';
import { PRISMA, forbidden, requestContext, unauthenticated, type Clock, CLOCK } from '@portcullis/platform';
import { bearerCredentialOf } from '../auth';
import { parseUploadToken, secretMatches } from './upload-token';

/** The tenant and token a CI upload is made with. */
export interface ScanUploader {
  readonly tenantId: string;
  /** The token's row id (what revokeScanUploadToken names). */
  readonly tokenId: string;
  readonly tokenName: string;
}

type UploadRequest = Request & { scanUploader?: ScanUploader };

/** last_used_at is a hint for operators; writing it on every upload of a busy pipeline is not worth a row lock. */
const LAST_USED_GRANULARITY_MS = 60_000;

/**
 * Authenticates POST /api/v1/scan-reports with a per-tenant upload token and nothing
 * else: user bearer tokens and agent credentials are refused here, and the token is
 * read on every request, so a revoked token stops working at once.
 */
@Injectable()
export class ScanUploadGuard implements CanActivate {
  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<UploadRequest>();
    const token = bearerCredentialOf(req.header('authorization'));
    if (!token)
      throw unauthenticated(
        'a scan upload token is required (Authorization: Bearer pcs_...; create one with the createScanUploadToken mutation)',
      );
    const parsed = parseUploadToken(token);
    if (!parsed)
      throw unauthenticated(
        'this endpoint takes a scan upload token (pcs_...), not a user token or an agent credential',
      );
    const row = await this.prisma.scanUploadToken.findUnique({
      where: { tokenId: parsed.tokenId },
      select: {
        id: true,
        tenantId: true,
        name: true,
        tokenHash: true,
        revokedAt: true,
        lastUsedAt: true,
        tenant: { select: { status: true } },
      },
    });
    if (!row || !secretMatches(parsed.secret, row.tokenHash))
      throw unauthenticated('the scan upload token is not valid');
    if (row.revokedAt) throw unauthenticated('the scan upload token was revoked');
    if (row.tenant.status !== 'ACTIVE') throw forbidden('the tenant of this upload token is disabled');
    const now = this.clock.now();
    if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > LAST_USED_GRANULARITY_MS) {
      await this.prisma.scanUploadToken.update({ where: { id: row.id }, data: { lastUsedAt: now } });
    }
    req.scanUploader = { tenantId: row.tenantId, tokenId: row.id, tokenName: row.name };
    requestContext.identify(row.tenantId, `scan-upload-token:${row.id}`);
    return true;
  }
}

export const CurrentUploader = createParamDecorator((_: unknown, context: ExecutionContext): ScanUploader => {
  const uploader = context.switchToHttp().getRequest<UploadRequest>().scanUploader;
  if (!uploader) throw unauthenticated('a scan upload token is required');
  return uploader;
});
