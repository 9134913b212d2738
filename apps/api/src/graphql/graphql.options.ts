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

export function graphqlOptions(config: AppConfig, logger: Logger, metrics: ApiMetrics, schemaFile: string | boolean = SCHEMA_FILE): ApolloDriverConfig {
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
    validationRules: [depthLimit(config.graphql.maxDepth)],
    plugins: [
      complexityLimit(() => schema!, config.graphql.maxComplexity),
      operationMetrics(() => schema!, metrics),
      inputErrorStatus(),
      ...(production ? [withoutSuggestions()] : []),
    ],
    // @nestjs/apollo would reset every executed answer to 200, undoing inputErrorStatus's 400
    preserveHttpStatusForExecutionErrors: false,
    formatError: formatGraphqlError(logger),
    includeStacktraceInErrorResponses: false,
  };
}
