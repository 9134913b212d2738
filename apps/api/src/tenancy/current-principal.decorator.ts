import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { unauthenticated } from '@portcullis/platform';
import type { Principal } from './principal';
import { requestOf } from './tenancy.guard';

/** The caller, as the TenancyGuard resolved it. */
export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext): Principal => {
  const principal = requestOf(context).principal;
  if (!principal) throw unauthenticated('a bearer token is required');
  return principal;
});
