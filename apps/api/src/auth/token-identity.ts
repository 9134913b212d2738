import type { ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';

/** A few claims of the validated token, kept for auditing and diagnostics (never the token itself). */
export interface TokenClaims {
  readonly iss: string;
  readonly aud: string;
  readonly iat?: number;
  readonly exp: number;
  readonly ver?: string;
  readonly scp?: string;
  readonly preferred_username?: string;
}

/** Who presented a validated Entra ID bearer token: `tid` picks the tenant, `oid` the principal. */
export interface TokenIdentity {
  /** `tid`, lower-case. */
  readonly tenantId: string;
  /** `oid`, lower-case. */
  readonly objectId: string;
  readonly name?: string;
  readonly rawClaims: TokenClaims;
}

/** The HTTP request behind a REST route or a GraphQL operation. */
export interface AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
  identity?: TokenIdentity;
}

/**
 * The request of a REST route or a GraphQL operation: the one place the guards and the
 * parameter decorators find it. `R` names what later guards add (the tenancy guard's principal).
 */
export function authRequestOf<R extends AuthenticatedRequest = AuthenticatedRequest>(context: ExecutionContext): R {
  return context.getType<string>() === 'graphql'
    ? GqlExecutionContext.create(context).getContext<{ req: R }>().req
    : context.switchToHttp().getRequest<R>();
}
