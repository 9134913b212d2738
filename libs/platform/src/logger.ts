import type { LoggerService } from '@nestjs/common';
import pino from 'pino';
import { requestContext } from './request-context';

export type Logger = pino.Logger;

/**
 * JSON logs; every line carries the request id, tenant and principal of the request
 * it belongs to. Authorization headers and anything token-like are redacted.
 */
export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'authorization',
        'token',
        '*.authorization',
        '*.token',
        'req.headers.authorization',
        'headers.authorization',
        '*.agentToken',
        'agentToken',
        // alert destinations: signing secrets and destination URLs (Slack and Teams URLs are credentials)
        'secret',
        '*.secret',
        'destinationUrl',
        '*.destinationUrl',
      ],
      censor: '[redacted]',
    },
    mixin() {
      const ctx = requestContext.current();
      return ctx ? { requestId: ctx.requestId, tenantId: ctx.tenantId, principalId: ctx.principalId } : {};
    },
  });
}

/** Routes Nest's own logging through the JSON logger. */
export class NestJsonLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string): void {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}
