import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import type { GraphQLSchema } from 'graphql';
import type { AppConfig } from '@portcullis/config';
import { repoPath } from '@portcullis/config';
import type { Logger } from '@portcullis/platform';
import { DateTimeScalar } from './date-time.scalar';
import { formatGraphqlError, inputErrorStatus } from './errors';
import type { ApiMetrics } from '../platform/metrics';
import { complexityLimit, depthLimit } from './limits';
import { GRAPHQL_PATH, operationMetrics } from './operation-metrics';
import { withoutSuggestions } from './suggestions';

/** Where the code-first schema is written; committed, and checked for staleness by a test. */
export const SCHEMA_FILE = repoPath('apps', 'api', 'schema.gql');

export function graphqlOptions(
  config: AppConfig,
  logger: Logger,
  metrics: ApiMetrics,
  schemaFile: string | boolean = SCHEMA_FILE,
): ApolloDriverConfig {
  let schema: GraphQLSchema | undefined;
  const production = config.env === 'production';
  return {
    driver: ApolloDriver,
    path: GRAPHQL_PATH,
    autoSchemaFile: schemaFile,
    sortSchema: true,
    buildSchemaOptions: { scalarsMap: [{ type: Date, scalar: DateTimeScalar }] },
    playground: false,
    introspection: !production,
    // "Did you mean ...?" would spell out the schema that introspection hides
    hideSchemaDetailsFromClientErrors: production,
    csrfPrevention: true,
    context: ({ req }: { req: unknown }) => ({ req }),
    transformSchema: (s: GraphQLSchema) => {
      schema = s;
      return s;
    },
    // a document's size bounds what validation costs: 2,000 aliases cost ~40 ms of validation, unauthenticated
    parseOptions: { maxTokens: config.graphql.maxTokens },
    validationRules: [depthLimit(config.graphql.maxDepth)],
    plugins: [
      complexityLimit(() => schema!, config.graphql),
      operationMetrics(() => schema!, metrics),
      inputErrorStatus(),
      ...(production ? [withoutSuggestions()] : []),
    ],
    formatError: formatGraphqlError(logger),
    // @nestjs/apollo would reset every executed answer to 200, undoing inputErrorStatus's 400 and a
    // capacity refusal's 429 (RateLimitedError carries extensions.http.status)
    preserveHttpStatusForExecutionErrors: false,
    includeStacktraceInErrorResponses: false,
  };
}
