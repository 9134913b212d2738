import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import {
  DomainError,
  RateLimitedError,
  RETRY_AFTER_SECONDS,
  httpStatusOf,
  requestContext,
  type Logger,
} from '@portcullis/platform';

/**
 * REST side of the error mapping (GraphQL errors go through formatGraphqlError):
 * domain errors become their status with a JSON body naming code and field; unknown
 * errors are logged and answered with a sanitised 500.
 */
@Catch()
export class DomainErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(error: unknown, host: ArgumentsHost): void {
    if (host.getType<string>() !== 'http') throw error; // GraphQL: handled by the formatter
    const res = host.switchToHttp().getResponse<Response>();
    if (error instanceof DomainError) {
      if (error instanceof RateLimitedError) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
      res.status(httpStatusOf(error.code)).json({
        code: error.code,
        message: error.message,
        ...(error.field ? { field: error.field } : {}),
        ...(error.details ?? {}),
      });
      return;
    }
    if (error instanceof HttpException) {
      const status = error.getStatus();
      // Nest wraps body-parser's errors; an oversized body says what the limit is
      const limit = (error.cause as { limit?: unknown } | undefined)?.limit;
      if (status === 413 && typeof limit === 'number') {
        res.status(413).json({
          code: 'PAYLOAD_TOO_LARGE',
          message: `the request body is larger than the limit of ${limit} bytes`,
          limit,
        });
        return;
      }
      const body = error.getResponse();
      const message = typeof body === 'string' ? body : ((body as { message?: unknown }).message ?? error.message);
      res
        .status(status)
        .json({ code: codeOf(status), message: Array.isArray(message) ? message.join('; ') : String(message) });
      return;
    }
    // body-parser errors (oversized or malformed JSON) carry a status of their own
    const { status, type, limit } = (typeof error === 'object' && error !== null ? error : {}) as {
      status?: unknown;
      type?: string;
      limit?: unknown;
    };
    if (status === 413 && type === 'entity.too.large' && typeof limit === 'number') {
      res.status(413).json({
        code: 'PAYLOAD_TOO_LARGE',
        message: `the request body is larger than the limit of ${limit} bytes`,
        limit,
      });
      return;
    }
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ code: codeOf(status), message: (error as Error).message });
      return;
    }
    const requestId = requestContext.current()?.requestId;
    this.logger.error({ err: error }, 'unhandled error in HTTP request');
    res.status(500).json({
      code: 'INTERNAL_SERVER_ERROR',
      message: `internal error${requestId ? ` (request id ${requestId})` : ''}`,
    });
  }
}

function codeOf(status: number): string {
  switch (status) {
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'CONFLICT';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    default:
      return status < 500 ? 'BAD_USER_INPUT' : 'INTERNAL_SERVER_ERROR';
  }
}
