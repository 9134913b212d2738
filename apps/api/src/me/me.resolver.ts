import { Query, Resolver } from '@nestjs/graphql';
import { notFound } from '@portcullis/platform';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Me } from './me.types';

@Resolver(() => Me)
export class MeResolver {
  constructor(private readonly db: TenantDb) {}

  @Access('signed-in')
  @Query(() => Me)
  async me(@CurrentPrincipal() principal: Principal): Promise<Me> {
    const tenant = await this.db.run(principal, (tx) =>
      tx.tenant.findUnique({ where: { id: principal.tenantId }, select: { name: true } }),
    );
    if (!tenant) throw notFound('tenant not found');
    return {
      tenantId: principal.tenantId,
      tenantName: tenant.name,
      objectId: principal.objectId,
      name: principal.name,
      roles: principal.grants.map((g) => ({ role: g.role, cloudScopeId: g.cloudScopeId })),
    };
  }
}
