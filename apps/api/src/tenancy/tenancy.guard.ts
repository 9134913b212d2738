import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { PrismaClient } from '@portcullis/db';
import { forbidden, unauthenticated, requestContext, PRISMA } from '@portcullis/platform';
import { authRequestOf, PUBLIC_ROUTE, type AuthenticatedRequest, type TokenIdentity } from '../auth';
import { ACCESS_KEY } from './access.decorator';
import { Principal, type Permission } from './principal';

/** The request once the bearer-token guard set its identity: this guard adds the principal. */
export interface TenantRequest extends AuthenticatedRequest {
  principal?: Principal;
}

export const requestOf = (context: ExecutionContext): TenantRequest => authRequestOf<TenantRequest>(context);

/**
 * Runs after token validation: binds the caller to an onboarded, active tenant and
 * loads its role grants, then enforces the handler's declared permission. A handler
 * that declares neither @Access nor @Public is refused: access is never implicit.
 */
@Injectable()
export class TenancyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(PRISMA) private readonly prisma: PrismaClient,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const permission = this.reflector.getAllAndOverride<Permission | undefined>(ACCESS_KEY, targets);
    if (!permission)
      throw forbidden(`${context.getClass().name}.${context.getHandler().name} declares no access requirement`);

    const req = requestOf(context);
    const identity = req.identity;
    if (!identity) throw unauthenticated('a bearer token is required');
    req.principal ??= await this.loadPrincipal(identity);
    if (!req.principal.canAnywhere(permission)) {
      throw forbidden(
        `this operation needs the ${describe(permission)} role; you have ${req.principal.grants.length ? 'no such role' : 'no role in this tenant'}`,
      );
    }
    return true;
  }

  private async loadPrincipal(identity: TokenIdentity): Promise<Principal> {
    const tenant = await this.prisma.tenant.findUnique({
      where: { id: identity.tenantId },
      select: {
        status: true,
        roleAssignments: { where: { principalId: identity.objectId }, select: { role: true, cloudScopeId: true } },
      },
    });
    if (!tenant) throw unauthenticated(`tenant ${identity.tenantId} is not onboarded to Portcullis`);
    if (tenant.status !== 'ACTIVE') throw unauthenticated(`tenant ${identity.tenantId} is disabled`);
    requestContext.identify(identity.tenantId, identity.objectId);
    return new Principal(identity.tenantId, identity.objectId, identity.name ?? null, tenant.roleAssignments);
  }
}

function describe(permission: Permission): string {
  switch (permission) {
    case 'signed-in':
      return 'any';
    case 'read':
      return 'SECURITY_READER, SECURITY_ADMIN or OWNER';
    case 'manage':
      return 'SECURITY_ADMIN or OWNER';
    case 'administer':
      return 'OWNER';
  }
}
