import { Module, type DynamicModule } from '@nestjs/common';
import type { AuthOptions } from './auth.options';
import { BearerAuthGuard } from './bearer-auth.guard';
import { AUTH_OPTIONS } from './tokens';

/** Entra ID bearer-token validation; the guard is installed globally by the API module. */
@Module({})
export class AuthModule {
  static register(options: AuthOptions): DynamicModule {
    if (options.production && options.extraTrustedCaPem) throw new Error('refusing to trust the dev issuer CA when NODE_ENV=production');
    if (options.production && !options.identityMetadataUrl.startsWith('https://')) throw new Error('AUTH_METADATA_URL must be https in production');
    return {
      module: AuthModule,
      providers: [{ provide: AUTH_OPTIONS, useValue: options }, BearerAuthGuard],
      exports: [AUTH_OPTIONS, BearerAuthGuard],
    };
  }
}
