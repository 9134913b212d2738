// Entra ID (and local dev issuer) bearer-token authentication for the API.
export { AuthModule } from './auth.module';
export { BearerAuthGuard } from './bearer-auth.guard';
export { bearerCredentialOf } from './bearer-header';
export { BearerTokenVerifier } from './bearer-token.verifier';
export { AuthOptionsError, authOptionsFrom, checkAuthOptions } from './auth.options';
export type { AuthOptions } from './auth.options';
export { Public, PUBLIC_ROUTE } from './public.decorator';
export { authRequestOf } from './token-identity';
export type { AuthenticatedRequest, TokenClaims, TokenIdentity } from './token-identity';
export { AUTH_OPTIONS } from './tokens';
