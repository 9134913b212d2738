import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { BearerTokenVerifier } from './bearer-token.verifier';
import { PUBLIC_ROUTE } from './public.decorator';
import { authRequestOf } from './token-identity';

/**
 * Requires a valid Entra ID bearer token on every REST route and GraphQL operation not
 * marked @Public(), and sets `request.identity`. Global-ready: provide it as APP_GUARD,
 * ahead of the guards that resolve tenant and roles from that identity.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: BearerTokenVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()]))
      return true;
    const req = authRequestOf(context);
    // GraphQL runs guards per resolver; the token is verified once per request
    req.identity ??= await this.verifier.verify(req as never);
    return true;
  }
}
