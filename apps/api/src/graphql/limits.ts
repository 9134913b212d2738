import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError,
  getNamedType,
  type GraphQLSchema,
  type ValidationContext,
  type ASTVisitor,
  Kind,
  type SelectionSetNode,
  type FragmentDefinitionNode,
  type DocumentNode,
  type OperationDefinitionNode,
} from 'graphql';
import { getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import { requestContext } from '@portcullis/platform';
import { baseCost, costOf } from './field-costs';

/** Rejects operations nested deeper than `maxDepth` (fragments followed). */
export function depthLimit(maxDepth: number) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    }
    const depthOf = (set: SelectionSetNode | undefined, seen: Set<string>): number => {
      if (!set) return 0;
      let max = 0;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          if (sel.name.value.startsWith('__')) continue;
          max = Math.max(max, 1 + depthOf(sel.selectionSet, seen));
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          max = Math.max(max, depthOf(sel.selectionSet, seen));
        } else {
          const name = sel.name.value;
          const fragment = fragments.get(name);
          if (fragment && !seen.has(name))
            max = Math.max(max, depthOf(fragment.selectionSet, new Set([...seen, name])));
        }
      }
      return max;
    };
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, new Set());
        if (depth > maxDepth) {
          context.reportError(
            new GraphQLError(`operation is nested ${depth} levels deep; the limit is ${maxDepth}`, {
              nodes: [node],
              extensions: { code: 'BAD_USER_INPUT', field: 'query' },
            }),
          );
        }
      },
    };
  };
}

/** A refusal of the operation as a whole, before anything runs: BAD_USER_INPUT answered with HTTP 400 (not Apollo's 500 for errors thrown from plugin hooks). */
function refusal(message: string, field = 'query'): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', field, http: { status: 400 } } });
}

/** Per-field costs from field-costs.ts; a list's selection counts once per item it may return. */
const fieldCostEstimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
  // a connection's count is priced once by the list field above it, not once per item
  if (field.name === 'totalCount' && type.name.endsWith('Connection')) return 0;
  const cost = costOf(type.name, field.name);
  const paged = field.args.some((a) => a.name === 'first');
  if (!cost && !paged) return undefined;
  const first = args['first'];
  const items = paged ? (typeof first === 'number' && first > 0 ? first : (cost?.page ?? DEFAULT_PAGE)) : 1;
  // priced whether selected or not (a fragment may select it): a count over the whole filter
  const count = costOf(getNamedType(field.type).name, 'totalCount');
  return (
    (cost ? baseCost(cost, args) : 1) +
    (count ? baseCost(count, args) : 0) +
    Math.ceil(childComplexity * items * (cost?.perItem ?? 1))
  );
};

/** Page size of a list whose `first` is omitted and whose table entry names none. */
const DEFAULT_PAGE = 25;

/** Root fields of the operation marked expensive, aliases and fragment spreads counted. */
export function expensiveRootFields(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): string[] {
  const root = schema.getRootType(operation.operation);
  if (!root) return [];
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  }
  const found: string[] = [];
  const walk = (set: SelectionSetNode, seen: ReadonlySet<string>): void => {
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (costOf(root.name, sel.name.value)?.expensive)
          found.push(sel.alias ? `${sel.alias.value}: ${sel.name.value}` : sel.name.value);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        walk(sel.selectionSet, seen);
      } else {
        const fragment = fragments.get(sel.name.value);
        if (fragment && !seen.has(sel.name.value)) walk(fragment.selectionSet, new Set([...seen, sel.name.value]));
      }
    }
  };
  walk(operation.selectionSet, new Set());
  return found;
}

/**
 * Refuses, before anything runs, operations holding more than `maxExpensiveFields` expensive
 * root fields or whose estimated cost exceeds `maxComplexity`.
 */
export function complexityLimit(
  schemaRef: () => GraphQLSchema,
  limits: { readonly maxComplexity: number; readonly maxExpensiveFields: number },
): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, operation }) {
          const schema = schemaRef();
          const expensive = operation ? expensiveRootFields(schema, document, operation) : [];
          // the tenant gate holds a tenant to fewer transactions at once for such operations
          const ctx = requestContext.current();
          if (ctx && expensive.length > 0) ctx.expensive = true;
          if (expensive.length > limits.maxExpensiveFields) {
            const names = [...new Set(expensive.map((f) => f.replace(/^.*: /, '')))].join(', ');
            throw refusal(
              `the operation holds ${expensive.length} expensive fields (${names}); the limit is ${limits.maxExpensiveFields} per request`,
            );
          }
          let complexity: number;
          try {
            complexity = getComplexity({
              schema,
              operationName: request.operationName,
              query: document,
              variables: request.variables,
              estimators: [fieldCostEstimator, simpleEstimator({ defaultComplexity: 1 })],
            });
          } catch (err) {
            // variables that do not coerce (unknown enum values, wrong types) are the caller's input error
            if (err instanceof GraphQLError) throw refusal(err.message, 'variables');
            throw err;
          }
          if (complexity > limits.maxComplexity) {
            throw refusal(`operation complexity ${complexity} exceeds the limit of ${limits.maxComplexity}`);
          }
        },
      };
    },
  };
}
