import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import type { ErrorCode } from '@portcullis/platform';
import type { ApiMetrics } from '../platform/metrics';

export const GRAPHQL_PATH = '/graphql';

/** Operations that name no field of the schema's root types, or several, count here. */
export const OTHER_OPERATION = 'other';

const DOMAIN_CODES: Record<ErrorCode, true> = {
  UNAUTHENTICATED: true,
  FORBIDDEN: true,
  BAD_USER_INPUT: true,
  NOT_FOUND: true,
  CONFLICT: true,
  PAYLOAD_TOO_LARGE: true,
  RATE_LIMITED: true,
};
const OUTCOMES = new Set<string>([...Object.keys(DOMAIN_CODES), 'INTERNAL_SERVER_ERROR']);

/**
 * Counts GraphQL operations by the root field they run (`policies`, `createPolicy`) and
 * their outcome. The label is never the operation name the client chose: names are free
 * text, and a label per distinct name would grow /metrics without bound.
 */
export function operationMetrics(schemaRef: () => GraphQLSchema, metrics: ApiMetrics): ApolloServerPlugin {
  return {
    async requestDidStart() {
      let operation = OTHER_OPERATION;
      return {
        async didResolveOperation({ document, operationName }) {
          operation = rootFieldLabel(schemaRef(), document, operationName ?? undefined);
        },
        async willSendResponse({ response }) {
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          const code = errors?.[0] ? String(errors[0].extensions?.['code'] ?? '') : 'ok';
          metrics.graphqlOperations.inc({ operation, outcome: code === 'ok' || OUTCOMES.has(code) ? code : 'other' });
        },
      };
    },
  };
}

/** The single root field an operation selects, when it is one the schema defines; else `other`. */
export function rootFieldLabel(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
): string {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const op =
    operationName === undefined
      ? operations.length === 1
        ? operations[0]
        : undefined
      : operations.find((o) => o.name?.value === operationName);
  if (!op) return OTHER_OPERATION;
  const root = schema.getRootType(op.operation);
  const fields = op.selectionSet.selections.flatMap((s) =>
    s.kind === Kind.FIELD && !s.name.value.startsWith('__')
      ? [s.name.value]
      : s.kind === Kind.FIELD
        ? []
        : ['(fragment)'],
  );
  if (!root || fields.length !== 1) return OTHER_OPERATION;
  const name = fields[0]!;
  return Object.hasOwn(root.getFields(), name) ? name : OTHER_OPERATION;
}
