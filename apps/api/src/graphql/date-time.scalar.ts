import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

// RFC 3339 with a zone, as every wire timestamp of the project (libs/contracts TIMESTAMP)
const TIMESTAMP =
  /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

/** A calendar day that exists: new Date() would roll 2026-02-31 over into March. */
const dayExists = (day: string) => new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) === day;

function parse(value: unknown): Date {
  if (typeof value !== 'string' || !TIMESTAMP.test(value) || !dayExists(value.slice(0, 10))) {
    throw new GraphQLError('DateTime must be an RFC 3339 timestamp with a zone, e.g. 2026-12-31T00:00:00Z', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  return new Date(value);
}

/**
 * The DateTime of the schema (same name and description as @nestjs/graphql's), strict on
 * input: Nest's own turns `true` into 1970-01-01 and `"2026"` into a date. Output unchanged.
 */
export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  description: 'A date-time string at UTC, such as 2019-12-03T09:54:33Z, compliant with the date-time format.',
  serialize: (value) => (value instanceof Date ? value.toISOString() : null),
  parseValue: parse,
  parseLiteral: (ast) => parse(ast.kind === Kind.STRING ? ast.value : undefined),
});
