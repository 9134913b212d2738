import { SetMetadata } from '@nestjs/common';

/** Metadata key of {@link Public}: the bearer-token guard and the tenancy guard both read it. */
export const PUBLIC_ROUTE = 'portcullis:public';

/**
 * No user bearer token needed: health, readiness, metrics, the JWKS, and routes that carry
 * their own credential (agent endpoints, scan uploads) and say so with their own guard.
 */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE, true);
