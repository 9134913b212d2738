import { HttpException, ValidationError as ClassValidationError, type ValidationPipeOptions } from '@nestjs/common';
import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { DomainError, badInput, type Logger, requestContext } from '@portcullis/platform';
import { onAnswerErrors } from './answer-errors';

const PASSTHROUGH_CODES = new Set(['BAD_USER_INPUT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT']);
const INPUT_CODES = new Set([
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'BAD_USER_INPUT',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
]);

// graphql-js's parser stops at `parseOptions.maxTokens` with this message (its spelling)
const TOKEN_LIMIT = /^Syntax Error: Document contains more tha[nt] (\d+) tokens/;

/** The one place errors become GraphQL answers: domain codes mapped, unknown errors sanitised and logged. */
export function formatGraphqlError(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof DomainError) {
      return {
        message: original.message,
        path: formatted.path,
        extensions: { code: original.code, ...(original.field ? { field: original.field } : {}) },
      };
    }
    if (original instanceof HttpException) {
      const status = original.getStatus();
      const code =
        status === 401
          ? 'UNAUTHENTICATED'
          : status === 403
            ? 'FORBIDDEN'
            : status === 404
              ? 'NOT_FOUND'
              : status === 409
                ? 'CONFLICT'
                : status < 500
                  ? 'BAD_USER_INPUT'
                  : undefined;
      if (code) return { message: original.message, path: formatted.path, extensions: { code } };
    }
    const code = String(formatted.extensions?.['code'] ?? '');
    const tokens = TOKEN_LIMIT.exec(formatted.message);
    if (tokens && INPUT_CODES.has(code)) {
      return {
        message: `query: the document holds more than ${tokens[1]} tokens (GRAPHQL_MAX_TOKENS); send a smaller operation`,
        extensions: { code: 'BAD_USER_INPUT', field: 'query' },
      };
    }
    if (INPUT_CODES.has(code) || PASSTHROUGH_CODES.has(code)) {
      return {
        ...formatted,
        extensions: { ...formatted.extensions, code: PASSTHROUGH_CODES.has(code) ? code : 'BAD_USER_INPUT' },
      };
    }
    const requestId = requestContext.current()?.requestId;
    logger.error({ err: original, path: formatted.path }, 'unhandled error in GraphQL operation');
    return {
      message: `internal error${requestId ? ` (request id ${requestId})` : ''}`,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}

/**
 * An answer whose errors are all the caller's input errors is HTTP 400, wherever they were
 * raised: Apollo answers 500 for an error thrown from a plugin hook (complexity, variables
 * coerced by a plugin) and 200 for one thrown by a resolver, whatever its code says.
 */
export function inputErrorStatus(): ApolloServerPlugin {
  return onAnswerErrors((errors, http) => {
    if (errors.every((e) => e.extensions?.['code'] === 'BAD_USER_INPUT')) http.status = 400;
  });
}

function firstViolation(
  errors: readonly ClassValidationError[],
  prefix: string,
): { field: string; message: string } | undefined {
  for (const e of errors) {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    if (e.constraints) {
      const message = Object.values(e.constraints)[0] ?? 'is invalid';
      return { field, message };
    }
    const nested = firstViolation(e.children ?? [], field);
    if (nested) return nested;
  }
  return undefined;
}

/** class-validator failures become BAD_USER_INPUT naming the field. */
export const validationPipeOptions: ValidationPipeOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  transform: true,
  stopAtFirstError: true,
  exceptionFactory: (errors) => {
    const v = firstViolation(errors, '');
    return v ? badInput(v.field, `${v.field}: ${v.message}`) : badInput('input', 'input is invalid');
  },
};
