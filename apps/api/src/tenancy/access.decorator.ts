import { SetMetadata } from '@nestjs/common';
import type { Permission } from './principal';

export const ACCESS_KEY = 'portcullis:access';

/**
 * Declares what a resolver or route needs: the guard refuses callers without that
 * permission somewhere in their tenant, and refuses any handler that declares neither
 * this nor `@Public()` (from ../auth; fail closed). Scope-level checks happen in the
 * services, on the scopes touched.
 */
export const Access = (permission: Permission) => SetMetadata(ACCESS_KEY, permission);
