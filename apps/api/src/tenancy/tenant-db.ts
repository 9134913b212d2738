import { Inject, Injectable } from '@nestjs/common';
import { withTenant, type PrismaClient, type TenantTx } from '@portcullis/db';
import { PRISMA } from '@portcullis/platform';
import type { Principal } from './principal';

/** Every tenant-bound read or write goes through here: one transaction under row-level security. */
@Injectable()
export class TenantDb {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  run<T>(principal: Pick<Principal, 'tenantId'>, work: (tx: TenantTx) => Promise<T>): Promise<T> {
    return withTenant(this.prisma, principal.tenantId, work);
  }
}
