import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { jsonFitsWithin } from '@portcullis/contracts';

/** Bounds of a JSON input (rule parameters, label selectors): the deepest real one is 3 levels. */
export const JSON_INPUT_LIMITS = { maxDepth: 16, maxBytes: 64 * 1024 } as const;

const refuse = (problem: string) => new GraphQLError(`JSON ${problem}`, { extensions: { code: 'BAD_USER_INPUT' } });

/** Depth of a value, iteratively (a value nested thousands deep must not overflow the stack), stopping past the limit. */
function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

function bounded(value: unknown): unknown {
  if (nestedDeeperThan(value, JSON_INPUT_LIMITS.maxDepth))
    throw refuse(`is nested deeper than ${JSON_INPUT_LIMITS.maxDepth} levels`);
  if (!jsonFitsWithin(value, JSON_INPUT_LIMITS.maxBytes))
    throw refuse(`is larger than ${JSON_INPUT_LIMITS.maxBytes} bytes`);
  return value;
}

function literal(ast: ValueNode, depth: number): unknown {
  if (depth > JSON_INPUT_LIMITS.maxDepth) throw refuse(`is nested deeper than ${JSON_INPUT_LIMITS.maxDepth} levels`);
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literal(f.value, depth + 1)]));
    case Kind.LIST:
      return ast.values.map((v) => literal(v, depth + 1));
    case Kind.NULL:
      return null;
    case Kind.VARIABLE:
    case Kind.ENUM:
      return undefined;
  }
}

/** Arbitrary JSON (audit before/after, rule parameters), bounded in depth and size when it is input. */
export const GraphQLJSON = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value.',
  serialize: (v) => v,
  parseValue: bounded,
  parseLiteral: (ast) => bounded(literal(ast, 0)),
});
