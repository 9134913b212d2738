import { Inject, Injectable } from '@nestjs/common';
import { withTenant, type PrismaClient, type TenantTx } from '@portcullis/db';
import { PRISMA } from '@portcullis/platform';
import { DbGates } from '../platform/tenant-gate';
import type { Principal } from './principal';

/**
 * Every tenant-bound read or write goes through here: one transaction under row-level
 * security, admitted by the tenant gate so one tenant cannot hold the whole pool.
 */
@Injectable()
export class TenantDb {
  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    private readonly gates: DbGates,
  ) {}

  run<T>(principal: Pick<Principal, 'tenantId'>, work: (tx: TenantTx) => Promise<T>): Promise<T> {
    return this.gates.prisma.run(principal.tenantId, () => withTenant(this.prisma, principal.tenantId, work));
  }
}
