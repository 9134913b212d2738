/**
 * Domain errors carry a code; the GraphQL error formatter and the HTTP exception
 * filter map them in one place. Anything else is a bug: logged, answered sanitised.
 */
export type ErrorCode =
  'UNAUTHENTICATED' | 'FORBIDDEN' | 'BAD_USER_INPUT' | 'NOT_FOUND' | 'CONFLICT' | 'PAYLOAD_TOO_LARGE' | 'RATE_LIMITED';

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The offending input field (BAD_USER_INPUT, CONFLICT), e.g. `input.externalId`. */
    readonly field?: string,
    /** Extra machine-readable facts for REST answers, e.g. the index of the offending event in a batch. */
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
  }
}

export const badInput = (field: string, message: string) => new DomainError('BAD_USER_INPUT', message, field);
export const conflict = (field: string, message: string) => new DomainError('CONFLICT', message, field);
export const notFound = (message: string) => new DomainError('NOT_FOUND', message);
export const forbidden = (message: string) => new DomainError('FORBIDDEN', message);
export const unauthenticated = (message: string) => new DomainError('UNAUTHENTICATED', message);
export const payloadTooLarge = (message: string) => new DomainError('PAYLOAD_TOO_LARGE', message);

/**
 * The caller (its tenant or its request) is at a capacity limit: answered 429 over REST and,
 * through `extensions.http`, over GraphQL too (Apollo sets the status from a resolver error's
 * extensions), with code RATE_LIMITED. Retrying later succeeds.
 */
/** Seconds a refused caller is told to wait (`Retry-After`): the gate serves waiting tenants in turn, so a slot frees soon. */
export const RETRY_AFTER_SECONDS = 1;

export class RateLimitedError extends DomainError {
  // Apollo answers a resolver error's extensions.http (status and headers) as the response's
  readonly extensions = {
    code: 'RATE_LIMITED',
    http: { status: 429, headers: new Map([['retry-after', String(RETRY_AFTER_SECONDS)]]) },
  };
  constructor(message: string, details?: Readonly<Record<string, unknown>>) {
    super('RATE_LIMITED', message, undefined, details);
  }
}

export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'BAD_USER_INPUT':
      return 400;
    case 'NOT_FOUND':
      return 404;
    case 'CONFLICT':
      return 409;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'RATE_LIMITED':
      return 429;
  }
}

/** Prisma's unique-constraint violation, mapped to CONFLICT on the named field. */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === 'P2002';
}
