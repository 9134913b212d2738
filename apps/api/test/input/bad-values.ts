/**
 * Bad values for every input position of the published schema (STYLE.md 17): each
 * argument and input field, followed into input objects and list elements, gets every
 * class of bad value its type admits. A seeded generator picks the variants, so a run
 * is reproducible and still varies the character and position of what it plants.
 */
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputObjectType,
  type GraphQLInputType,
} from 'graphql';

export type BadClass =
  | 'nul'
  | 'control'
  | 'invisible'
  | 'huge-string'
  | 'deep-nesting'
  | 'int32-overflow'
  | 'beyond-2^53'
  | 'huge-list'
  | 'wrong-type'
  | 'invalid-enum';

/** Classes that must be refused wherever they stand: no string input of the API takes them. */
export const ALWAYS_REFUSED: ReadonlySet<BadClass> = new Set([
  'nul',
  'control',
  'huge-string',
  'deep-nesting',
  'wrong-type',
  'invalid-enum',
  'int32-overflow',
  'beyond-2^53',
  'huge-list',
]);

export type PathItem = string | number;

export interface InputPosition {
  /** Argument name, then input field names and list indexes. */
  readonly path: readonly PathItem[];
  readonly type: GraphQLInputType;
}

export interface BadValue {
  readonly cls: BadClass;
  readonly value: unknown;
}

/** mulberry32: small, fast, and the same sequence for the same seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every argument and input field reachable from a root field; each input type is entered once per path. */
export function inputPositions(field: GraphQLField<unknown, unknown>): InputPosition[] {
  const out: InputPosition[] = [];
  const visit = (type: GraphQLInputType, path: PathItem[], entered: ReadonlySet<GraphQLInputObjectType>): void => {
    out.push({ path, type });
    const inner = getNullableType(type);
    if (isListType(inner)) return visit(inner.ofType as GraphQLInputType, [...path, 0], entered);
    if (isInputObjectType(inner) && !entered.has(inner)) {
      for (const f of Object.values(inner.getFields())) visit(f.type, [...path, f.name], new Set([...entered, inner]));
    }
  };
  for (const arg of field.args) visit(arg.type, [arg.name], new Set());
  return out;
}

const CONTROL = [
  ...Array.from({ length: 8 }, (_, i) => 1 + i),
  0x0b,
  0x0c,
  ...Array.from({ length: 18 }, (_, i) => 0x0e + i),
  0x7f,
  0x85,
  0x9b,
];
const BIDI = [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c];
const ZERO_WIDTH = [0x200b, 0x200c, 0x200d, 0x2060, 0xfeff];
/** Bidi controls and zero-width characters: one class, the variant chosen by the seed. */
const INVISIBLE = [...BIDI, ...ZERO_WIDTH];

function deep(depth: number, leaf: unknown, asArray: boolean): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = asArray ? [v] : { a: v };
  return v;
}

export function badValues(position: InputPosition, random: () => number): BadValue[] {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const plant = (code: number, base = 'fuzz value'): string => {
    const at = Math.floor(random() * (base.length + 1));
    return `${base.slice(0, at)}${String.fromCodePoint(code)}${base.slice(at)}`;
  };
  const type = getNullableType(position.type);
  if (isListType(type)) {
    return [
      { cls: 'huge-list', value: Array.from({ length: 5_001 }, () => sampleOf(type.ofType as GraphQLInputType)) },
      { cls: 'deep-nesting', value: deep(3_000, 'x', true) },
      { cls: 'wrong-type', value: { not: 'a list' } },
    ];
  }
  if (isEnumType(type)) {
    return [
      { cls: 'invalid-enum', value: pick(['NOT_A_VALUE', type.getValues()[0]!.name.toLowerCase(), '']) },
      { cls: 'wrong-type', value: 7 },
    ];
  }
  if (isInputObjectType(type)) {
    return [
      { cls: 'wrong-type', value: pick(['an object expected', 42, true]) },
      { cls: 'deep-nesting', value: deep(3_000, 1, false) },
      { cls: 'nul', value: { 'fuzz\u0000': 1 } },
    ];
  }
  if (isScalarType(type)) {
    switch (type.name) {
      case 'Int':
      case 'Float':
        return [
          { cls: 'int32-overflow', value: pick([2 ** 31, -(2 ** 31) - 1, 2 ** 32 + 1]) },
          { cls: 'beyond-2^53', value: pick([2 ** 53 + 2, -(2 ** 60), 1e300]) },
          { cls: 'wrong-type', value: pick(['12', { n: 1 }, [1, 2]]) },
        ];
      case 'Boolean':
        return [{ cls: 'wrong-type', value: pick(['true', 1, { b: true }]) }];
      case 'JSON':
        return [
          { cls: 'deep-nesting', value: random() < 0.5 ? deep(3_000, 'x', false) : { a: deep(3_000, 1, true) } },
          { cls: 'nul', value: random() < 0.5 ? { [plant(0, 'key')]: 'v' } : { key: plant(0) } },
          { cls: 'control', value: { key: [plant(pick(CONTROL))] } },
          { cls: 'beyond-2^53', value: { key: pick([2 ** 53 + 2, 1e300, -(2 ** 63)]) } },
          { cls: 'huge-string', value: { key: 'j'.repeat(70_000) } },
          { cls: 'huge-list', value: { key: Array.from({ length: 20_001 }, (_, i) => i) } },
          { cls: 'wrong-type', value: pick(['a string', 12, true, [1]]) },
        ];
      default: // String, ID, DateTime and other string-carried scalars
        return [
          { cls: 'nul', value: plant(0) },
          { cls: 'control', value: plant(pick(CONTROL)) },
          { cls: 'invisible', value: plant(pick(INVISIBLE)) },
          { cls: 'huge-string', value: pick(['s', 'é', ' ']).repeat(70_000) },
          { cls: 'deep-nesting', value: deep(3_000, 's', random() < 0.5) },
          { cls: 'wrong-type', value: pick([{ s: 'x' }, true, [['x']]]) },
        ];
    }
  }
  return [];
}

/** A plausible element for huge lists: the list's own length is what is under test. */
function sampleOf(type: GraphQLInputType): unknown {
  const named = getNamedType(type);
  if (isEnumType(named)) return named.getValues()[0]!.name;
  if (isInputObjectType(named)) return {};
  switch (named.name) {
    case 'Int':
    case 'Float':
      return 1;
    case 'Boolean':
      return true;
    case 'ID':
      return '00000000-0000-4000-8000-000000000000';
    default:
      return 'x';
  }
}

/** A copy of `base` with `value` at `path` (parents created as objects or one-element lists). */
export function withValueAt(
  base: Record<string, unknown>,
  path: readonly PathItem[],
  value: unknown,
): Record<string, unknown> {
  const root: Record<string, unknown> = structuredClone(base);
  let node: Record<string | number, unknown> = root;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      node[key] = value;
      return;
    }
    const next = path[i + 1]!;
    const existing = node[key];
    if (typeof next === 'number')
      node[key] =
        Array.isArray(existing) && existing.length ? existing : [typeof path[i + 2] === 'string' ? {} : undefined];
    else node[key] = typeof existing === 'object' && existing !== null && !Array.isArray(existing) ? existing : {};
    node = node[key] as Record<string | number, unknown>;
  });
  return root;
}
