import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import type { GraphQLSchema } from 'graphql';
import type { AppConfig } from '@portcullis/config';
import { repoPath } from '@portcullis/config';
import type { Logger } from '@portcullis/platform';
import { DateTimeScalar } from './date-time.scalar';
import { formatGraphqlError, inputErrorStatus } from './errors';
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
    buildSchemaOptions: { scalarsMap: [{ type: Date, scalar: DateTimeScalar }] },
    playground: false,
    introspection: config.env !== 'production',
    csrfPrevention: true,
    context: ({ req }: { req: unknown }) => ({ req }),
    transformSchema: (s: GraphQLSchema) => {
      schema = s;
      return s;
    },
    validationRules: [depthLimit(config.graphql.maxDepth)],
    plugins: [complexityLimit(() => schema!, config.graphql.maxComplexity), inputErrorStatus()],
    // @nestjs/apollo would reset every executed answer to 200, undoing inputErrorStatus's 400
    preserveHttpStatusForExecutionErrors: false,
    formatError: formatGraphqlError(logger),
    includeStacktraceInErrorResponses: false,
  };
}
