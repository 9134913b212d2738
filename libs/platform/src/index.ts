// Process plumbing shared by the API and the worker: config/clock/logger/DB/Redis
// providers, request context for log lines, and the domain error vocabulary.
export { PlatformModule } from './platform.module';
export { createLogger, NestJsonLogger } from './logger';
export type { Logger } from './logger';
export { requestContext } from './request-context';
export type { RequestContext } from './request-context';
export { APP_CONFIG, PRISMA, REDIS, LOGGER, CLOCK, systemClock } from './tokens';
export type { Clock } from './tokens';
export {
  DomainError,
  badInput,
  conflict,
  notFound,
  forbidden,
  unauthenticated,
  payloadTooLarge,
  RateLimitedError,
  RETRY_AFTER_SECONDS,
  httpStatusOf,
  isUniqueViolation,
} from './errors';
export type { ErrorCode } from './errors';
export { CPU_SLICE_MS, EXPENSIVE_DEFER_MS, yieldEvery, mapSliced, trackInFlight } from './cpu-slice';
