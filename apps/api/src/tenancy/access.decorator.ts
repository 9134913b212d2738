import { SetMetadata } from '@nestjs/common';
import type { Permission } from './principal';

export const ACCESS_KEY = 'portcullis:access';
export const PUBLIC_KEY = 'portcullis:public';

/**
 * Declares what a resolver or route needs: the guard refuses callers without that
 * permission somewhere in their tenant, and refuses any handler that declares nothing
 * (fail closed). Scope-level checks happen in the services, on the scopes touched.
 */
export const Access = (permission: Permission) => SetMetadata(ACCESS_KEY, permission);

/** No user authentication (health, metrics, agent endpoints with their own credential). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);
