import { SetMetadata } from '@nestjs/common';

/** Metadata key of {@link Public}; the tenancy layer reads the same key. */
export const PUBLIC_ROUTE = 'portcullis:public';

/** No user bearer token needed: health, readiness, metrics, and agent routes with their own credential. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE, true);
