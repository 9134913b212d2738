import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlExecutionContext } from '@nestjs/graphql';
import type { PrismaClient } from '@portcullis/db';
import { forbidden, unauthenticated, requestContext, PRISMA } from '@portcullis/platform';
import { ACCESS_KEY, PUBLIC_KEY } from './access.decorator';
import { Principal, type Permission } from './principal';

/** What the bearer-token guard leaves on the request once the token is valid. */
export interface TokenIdentity {
  readonly tenantId: string;
  readonly objectId: string;
  readonly name?: string;
}

export interface TenantRequest {
  identity?: TokenIdentity;
  principal?: Principal;
}

export function requestOf(context: ExecutionContext): TenantRequest {
  return context.getType<string>() === 'graphql'
    ? (GqlExecutionContext.create(context).getContext<{ req: TenantRequest }>().req)
    : context.switchToHttp().getRequest<TenantRequest>();
}

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
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const permission = this.reflector.getAllAndOverride<Permission | undefined>(ACCESS_KEY, targets);
    if (!permission) throw forbidden(`${context.getClass().name}.${context.getHandler().name} declares no access requirement`);

    const req = requestOf(context);
    const identity = req.identity;
    if (!identity) throw unauthenticated('a bearer token is required');
    req.principal ??= await this.loadPrincipal(identity);
    if (!req.principal.canAnywhere(permission)) {
      throw forbidden(`this operation needs the ${describe(permission)} role; you have ${req.principal.grants.length ? 'no such role' : 'no role in this tenant'}`);
    }
    return true;
  }

  private async loadPrincipal(identity: TokenIdentity): Promise<Principal> {
    const tenant = await this.prisma.tenant.findUnique({
      where: { id: identity.tenantId },
      select: { status: true, roleAssignments: { where: { principalId: identity.objectId }, select: { role: true, cloudScopeId: true } } },
    });
    if (!tenant) throw unauthenticated(`tenant ${identity.tenantId} is not onboarded to Portcullis`);
    if (tenant.status !== 'ACTIVE') throw unauthenticated(`tenant ${identity.tenantId} is disabled`);
    const ctx = requestContext.current();
    if (ctx) {
      ctx.tenantId = identity.tenantId;
      ctx.principalId = identity.objectId;
    }
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
