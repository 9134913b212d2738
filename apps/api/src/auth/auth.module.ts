import { Module, type DynamicModule } from '@nestjs/common';
import { checkAuthOptions, type AuthOptions } from './auth.options';
import { BearerAuthGuard } from './bearer-auth.guard';
import { BearerTokenVerifier } from './bearer-token.verifier';
import { AUTH_OPTIONS } from './tokens';

/**
 * Entra ID bearer-token validation. The importing module installs the guard globally:
 * `{ provide: APP_GUARD, useClass: BearerAuthGuard }`.
 */
@Module({})
export class AuthModule {
  /** Throws AuthOptionsError on options that would weaken validation (e.g. a dev CA in production). */
  static register(options: AuthOptions): DynamicModule {
    checkAuthOptions(options);
    return {
      module: AuthModule,
      providers: [{ provide: AUTH_OPTIONS, useValue: options }, BearerTokenVerifier, BearerAuthGuard],
      exports: [AUTH_OPTIONS, BearerTokenVerifier, BearerAuthGuard],
    };
  }
}
