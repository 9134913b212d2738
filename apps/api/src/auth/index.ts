export { AuthModule } from './auth.module';
export { BearerAuthGuard } from './bearer-auth.guard';
export { authOptionsFrom } from './auth.options';
export type { AuthOptions } from './auth.options';
