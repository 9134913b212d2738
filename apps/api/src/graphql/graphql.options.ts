import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import type { GraphQLSchema } from 'graphql';
import type { AppConfig } from '@portcullis/config';
import { repoPath } from '@portcullis/config';
import type { Logger } from '@portcullis/platform';
import { formatGraphqlError } from './errors';
import { complexityLimit, depthLimit } from './limits';

/** Where the code-first schema is written; committed, and checked for staleness by a test. */
export const SCHEMA_FILE = repoPath('apps', 'api', 'schema.gql');

export function graphqlOptions(config: AppConfig, logger: Logger, schemaFile: string | boolean = SCHEMA_FILE): ApolloDriverConfig {
  let schema: GraphQLSchema | undefined;
  return {
    driver: ApolloDriver,
    path: '/graphql',
    autoSchemaFile: schemaFile,
    sortSchema: true,
    playground: false,
    introspection: config.env !== 'production',
    csrfPrevention: true,
    context: ({ req }: { req: unknown }) => ({ req }),
    transformSchema: (s: GraphQLSchema) => {
      schema = s;
      return s;
    },
    // a document's size bounds what validation costs: 2,000 aliases cost ~40 ms of validation, unauthenticated
    parseOptions: { maxTokens: config.graphql.maxTokens },
    validationRules: [depthLimit(config.graphql.maxDepth)],
    plugins: [complexityLimit(() => schema!, config.graphql)],
    formatError: formatGraphqlError(logger),
    // a resolver refused for capacity (RateLimitedError: extensions.http.status 429) answers 429, not
    // Nest's default reset to 200; no other execution error carries an HTTP status
    preserveHttpStatusForExecutionErrors: false,
    includeStacktraceInErrorResponses: false,
  };
}
