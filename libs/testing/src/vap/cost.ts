/**
 * A worst-case estimate of a CEL expression's cost with the cost model kube-apiserver enforces
 * for admission policies (cel-go's runtime cost, as its checker/cost.go estimates it), against
 * Kubernetes' limits: PerCallLimit (1,000,000 per expression evaluation) and
 * RuntimeCELCostBudget (10,000,000 per policy evaluation). Kubernetes derives sizes from the
 * schema's maxItems/maxLength; Pod specs have none, so this estimate assumes bounds
 * (VapCostBounds) and says so. The model, in short:
 *   constants 0; identifiers 1; field selection 1 (+ operand); list literal 10, map literal 30;
 *   a call 1 plus its arguments, except string work charged by length: ==/!= on strings,
 *   contains/startsWith/endsWith/lowerAscii/upperAscii/trim/replace/split/substring/indexOf/
 *   join/string +, quantity()/isQuantity() at ceil(0.1 × length); matches/find/findAll at
 *   ceil(0.1 × (length + 1)) × ceil(0.25 × pattern length); `in` a list and the list library
 *   (sum, min, max, isSorted, indexOf) at the list's size; && || ?: charge their operands
 *   (all of them: the worst case); a comprehension (all, exists, exists_one, map, filter)
 *   charges its range plus, per element, its loop condition and step (with the loop variable
 *   bound to an element); `variables.x` charges x's own expression once per expression.
 */
import { parse } from '@bufbuild/cel';
import { rewriteOptionals } from './cel';

export const PER_CALL_LIMIT = 1_000_000;
export const RUNTIME_CEL_COST_BUDGET = 10_000_000;

export interface VapCostBounds {
  /** items in any list of the object (containers, env, ports, volumes, volumeMounts, capabilities …) */
  readonly listItems: number;
  /** entries in any map of the object (labels, annotations, resources.limits …) */
  readonly mapEntries: number;
  /** characters in any string of the object (names, images, values …) */
  readonly stringLength: number;
}

export const DEFAULT_COST_BOUNDS: VapCostBounds = { listItems: 100, mapEntries: 100, stringLength: 4096 };

/** what the estimator knows of a value's size */
export type Shape =
  | { readonly kind: 'any' }
  | { readonly kind: 'scalar' }
  | { readonly kind: 'string'; readonly length: number }
  | { readonly kind: 'list'; readonly items: number; readonly elem: Shape }
  | { readonly kind: 'map'; readonly entries: number; readonly value: Shape }
  /** a real object's map: each field its own shape */
  | { readonly kind: 'record'; readonly fields: Readonly<Record<string, Shape>> };

const ANY: Shape = { kind: 'any' };
const SCALAR: Shape = { kind: 'scalar' };

// a parsed cel.expr.Expr, walked structurally
interface Node {
  readonly exprKind: { readonly case: string | undefined; readonly value?: unknown };
}
interface CallValue {
  readonly function: string;
  readonly target?: Node;
  readonly args: readonly Node[];
}
interface ComprehensionValue {
  readonly iterVar: string;
  readonly iterVar2?: string;
  readonly iterRange: Node;
  readonly accuVar: string;
  readonly accuInit: Node;
  readonly loopCondition: Node;
  readonly loopStep: Node;
  readonly result: Node;
}

interface Estimate {
  readonly cost: number;
  readonly shape: Shape;
}

const STRING_FACTOR = 0.1;
const REGEX_FACTOR = 0.25;
const LENGTH_CHARGED = new Set([
  'contains',
  'startsWith',
  'endsWith',
  'lowerAscii',
  'upperAscii',
  'trim',
  'replace',
  'split',
  'substring',
  'indexOf',
  'lastIndexOf',
  'charAt',
  'join',
  'quantity',
  'isQuantity',
  'string',
  'format',
]);
const REGEX = new Set(['matches', 'find', 'findAll']);
const LIST_SIZED = new Set(['sum', 'min', 'max', 'isSorted', 'indexOf', 'lastIndexOf']);

/** Parses (optionals rewritten as the runtime does) into the node the estimator walks */
const PARSED = new Map<string, Node>();
export function parseForCost(expression: string): Node {
  let node = PARSED.get(expression);
  if (!node) {
    node = parse(rewriteOptionals(expression)).expr as unknown as Node;
    if (PARSED.size > 5000) PARSED.clear();
    PARSED.set(expression, node);
  }
  return node;
}

export interface CostContext {
  readonly bounds: VapCostBounds;
  /** shapes of the root variables (object, oldObject, request, params, namespaceObject) */
  readonly roots?: Readonly<Record<string, Shape>>;
  /** `variables.<name>` expressions, as declared */
  readonly variables?: Readonly<Record<string, string>>;
}

class Estimator {
  private readonly charged = new Set<string>();
  private readonly variableShapes = new Map<string, Estimate>();
  constructor(private readonly ctx: CostContext) {}

  private listItems(s: Shape): number {
    if (s.kind === 'list') return s.items;
    if (s.kind === 'map') return s.entries;
    if (s.kind === 'record') return Object.keys(s.fields).length;
    if (s.kind === 'any') return Math.max(this.ctx.bounds.listItems, this.ctx.bounds.mapEntries);
    return 0;
  }
  private elem(s: Shape): Shape {
    if (s.kind === 'list') return s.elem;
    if (s.kind === 'map') return { kind: 'string', length: this.ctx.bounds.stringLength };
    if (s.kind === 'record')
      return { kind: 'string', length: Math.max(0, ...Object.keys(s.fields).map((k) => k.length)) };
    return ANY;
  }
  private length(s: Shape): number {
    if (s.kind === 'string') return s.length;
    if (s.kind === 'any') return this.ctx.bounds.stringLength;
    if (s.kind === 'list') return s.items;
    if (s.kind === 'map') return s.entries;
    if (s.kind === 'record') return Object.keys(s.fields).length;
    return 1;
  }
  private union(a: Shape, b: Shape): Shape {
    return unionShapes(a, b);
  }
  private select(s: Shape, field?: string): Shape {
    // selecting into a scalar (a field the object lacks) fails at run time: it adds no size
    if (s.kind === 'scalar') return SCALAR;
    if (s.kind === 'map') return s.value;
    if (s.kind === 'record') {
      if (field !== undefined) return s.fields[field] ?? SCALAR;
      return Object.values(s.fields).reduce<Shape>((acc, f) => unionShapes(acc, f), SCALAR);
    }
    return ANY;
  }

  estimate(node: Node, scope: ReadonlyMap<string, Shape>): Estimate {
    const kind = node.exprKind.case;
    const value = node.exprKind.value as Record<string, unknown>;
    switch (kind) {
      case 'constExpr': {
        const c = (value as { constantKind: { case: string; value: unknown } }).constantKind;
        if (c.case === 'stringValue') return { cost: 0, shape: { kind: 'string', length: String(c.value).length } };
        return { cost: 0, shape: SCALAR };
      }
      case 'identExpr': {
        const name = String(value['name']);
        return { cost: 1, shape: scope.get(name) ?? this.ctx.roots?.[name] ?? ANY };
      }
      case 'selectExpr': {
        const operand = value['operand'] as Node;
        const field = String(value['field']);
        if (
          operand.exprKind.case === 'identExpr' &&
          (operand.exprKind.value as { name: string }).name === 'variables'
        ) {
          return this.variable(field);
        }
        const o = this.estimate(operand, scope);
        return { cost: o.cost + 1, shape: value['testOnly'] ? SCALAR : this.select(o.shape, field) };
      }
      case 'listExpr': {
        const elements = (value['elements'] as Node[]).map((e) => this.estimate(e, scope));
        const elem = elements.reduce<Shape | undefined>(
          (acc, e) => (acc ? this.union(acc, e.shape) : e.shape),
          undefined,
        );
        return {
          cost: 10 + elements.reduce((a, e) => a + e.cost, 0),
          shape: { kind: 'list', items: elements.length, elem: elem ?? SCALAR },
        };
      }
      case 'structExpr': {
        const entries = value['entries'] as Array<{ mapKey?: Node; value: Node }>;
        let cost = 30;
        let v: Shape | undefined;
        for (const e of entries) {
          if (e.mapKey) cost += this.estimate(e.mapKey, scope).cost;
          const ve = this.estimate(e.value, scope);
          cost += ve.cost;
          v = v ? this.union(v, ve.shape) : ve.shape;
        }
        return { cost, shape: { kind: 'map', entries: entries.length, value: v ?? SCALAR } };
      }
      case 'callExpr':
        return this.call(value as unknown as CallValue, scope);
      case 'comprehensionExpr':
        return this.comprehension(value as unknown as ComprehensionValue, scope);
      default:
        return { cost: 1, shape: ANY };
    }
  }

  private variable(name: string): Estimate {
    const expr = this.ctx.variables?.[name];
    if (expr === undefined) return { cost: 1, shape: ANY };
    let est = this.variableShapes.get(name);
    if (!est) {
      est = this.estimate(parseForCost(expr), new Map());
      this.variableShapes.set(name, est);
    }
    if (this.charged.has(name)) return { cost: 1, shape: est.shape };
    this.charged.add(name);
    return { cost: 1 + est.cost, shape: est.shape };
  }

  private call(call: CallValue, scope: ReadonlyMap<string, Shape>): Estimate {
    const target = call.target ? this.estimate(call.target, scope) : undefined;
    const args = call.args.map((a) => this.estimate(a, scope));
    const operands = (target?.cost ?? 0) + args.reduce((a, e) => a + e.cost, 0);
    const fn = call.function;
    const a0 = args[0]?.shape ?? ANY;
    const a1 = args[1]?.shape ?? ANY;
    const subject = target?.shape ?? a0;
    const strCost = (n: number): number => Math.max(1, Math.ceil(STRING_FACTOR * n));
    switch (fn) {
      case '_&&_':
      case '_||_':
      case '!_':
      case '@not_strictly_false':
        return { cost: operands, shape: SCALAR };
      case '_?_:_':
        return { cost: operands, shape: this.union(a1, args[2]?.shape ?? ANY) };
      case '_==_':
      case '_!=_': {
        const strings = a0.kind === 'string' || a1.kind === 'string' || a0.kind === 'any' || a1.kind === 'any';
        const n = Math.min(this.length(a0), this.length(a1));
        return { cost: operands + (strings ? strCost(n) : 1), shape: SCALAR };
      }
      case '_+_': {
        if (a0.kind === 'list' || a1.kind === 'list') {
          const items = this.listItems(a0) + this.listItems(a1);
          return { cost: operands + 1, shape: { kind: 'list', items, elem: this.union(this.elem(a0), this.elem(a1)) } };
        }
        const n = this.length(a0) + this.length(a1);
        return { cost: operands + strCost(n), shape: a0.kind === 'scalar' ? SCALAR : { kind: 'string', length: n } };
      }
      case '@in':
        return { cost: operands + Math.max(1, a1.kind === 'map' ? 1 : this.listItems(a1)), shape: SCALAR };
      case '_[_]':
        return { cost: operands + 1, shape: a0.kind === 'list' ? a0.elem : this.select(a0) };
      case 'size':
        return { cost: operands + 1, shape: SCALAR };
      case '_opt_select_': {
        const lit = call.args[0]?.exprKind;
        const field =
          lit?.case === 'constExpr'
            ? String((lit.value as { constantKind: { value: unknown } }).constantKind.value)
            : undefined;
        return { cost: operands + 1, shape: this.select(subject, field) };
      }
      case '_opt_index_':
        return { cost: operands + 1, shape: subject.kind === 'list' ? subject.elem : this.select(subject) };
      case 'orValue':
        return { cost: operands + 1, shape: this.union(subject, a0) };
      case 'value':
      case 'or':
        return { cost: operands + 1, shape: subject };
      case 'split':
        return {
          cost: operands + strCost(this.length(subject)),
          shape: {
            kind: 'list',
            items: this.length(subject) + 1,
            elem: { kind: 'string', length: this.length(subject) },
          },
        };
      case 'join': {
        const n = this.listItems(subject) * (this.length(this.elem(subject)) + this.length(a0));
        return { cost: operands + strCost(n), shape: { kind: 'string', length: n } };
      }
      default:
        break;
    }
    if (REGEX.has(fn)) {
      const cost =
        Math.max(1, Math.ceil(STRING_FACTOR * (this.length(subject) + 1))) *
        Math.max(1, Math.ceil(REGEX_FACTOR * this.length(a0)));
      const shape: Shape =
        fn === 'findAll'
          ? { kind: 'list', items: this.length(subject), elem: { kind: 'string', length: this.length(subject) } }
          : fn === 'find'
            ? { kind: 'string', length: this.length(subject) }
            : SCALAR;
      return { cost: operands + cost, shape };
    }
    if (
      LIST_SIZED.has(fn) &&
      (subject.kind === 'list' || (subject.kind === 'any' && fn !== 'indexOf' && fn !== 'lastIndexOf'))
    )
      return { cost: operands + Math.max(1, this.listItems(subject)), shape: this.elem(subject) };
    if (LENGTH_CHARGED.has(fn)) {
      const n = this.length(subject);
      const returnsString = [
        'lowerAscii',
        'upperAscii',
        'trim',
        'replace',
        'substring',
        'charAt',
        'string',
        'format',
      ].includes(fn);
      return { cost: operands + strCost(n), shape: returnsString ? { kind: 'string', length: n } : SCALAR };
    }
    return { cost: operands + 1, shape: fn === 'quantity' ? SCALAR : ANY };
  }

  private comprehension(c: ComprehensionValue, scope: ReadonlyMap<string, Shape>): Estimate {
    const range = this.estimate(c.iterRange, scope);
    const init = this.estimate(c.accuInit, scope);
    const n = this.listItems(range.shape);
    const inner = new Map(scope);
    if (c.iterVar2) {
      inner.set(c.iterVar, range.shape.kind === 'list' ? SCALAR : this.elem(range.shape));
      inner.set(c.iterVar2, range.shape.kind === 'list' ? range.shape.elem : this.select(range.shape));
    } else inner.set(c.iterVar, this.elem(range.shape));
    // the accumulator of map/filter grows to one element per iteration; its elements are what
    // the step appends (the step's own shape, estimated once: no re-walk, so nesting stays linear)
    const accu: Shape = init.shape.kind === 'list' ? { kind: 'list', items: n, elem: SCALAR } : init.shape;
    inner.set(c.accuVar, accu);
    const cond = this.estimate(c.loopCondition, inner);
    const step = this.estimate(c.loopStep, inner);
    const result = this.estimate(c.result, inner);
    let shape = result.shape;
    if (accu.kind === 'list' && result.shape.kind === 'list')
      shape = { kind: 'list', items: n, elem: step.shape.kind === 'list' ? step.shape.elem : ANY };
    return { cost: range.cost + init.cost + n * (cond.cost + step.cost) + result.cost, shape };
  }
}

/** The worst-case cost of one expression under `bounds` (variables charged once, where used) */
export function estimateCost(expression: string, context: Partial<CostContext> = {}): number {
  const ctx: CostContext = {
    bounds: context.bounds ?? DEFAULT_COST_BOUNDS,
    roots: context.roots,
    variables: context.variables,
  };
  return new Estimator(ctx).estimate(parseForCost(expression), new Map()).cost;
}

export interface PolicyCostEstimate {
  readonly policy: string;
  readonly expressions: ReadonlyArray<{ readonly path: string; readonly expression: string; readonly cost: number }>;
  /** the most expensive single expression (to compare with PER_CALL_LIMIT) */
  readonly maxExpressionCost: number;
  /** every expression and every variable once: one evaluation of the policy (to compare with RUNTIME_CEL_COST_BUDGET) */
  readonly total: number;
  readonly withinPerCallLimit: boolean;
  readonly withinPolicyBudget: boolean;
}

type Json = Record<string, unknown>;

/** Every expression of a ValidatingAdmissionPolicy, with its path */
export function policyExpressions(vap: Json): Array<{ path: string; expression: string }> {
  const spec = (vap['spec'] ?? {}) as Json;
  const out: Array<{ path: string; expression: string }> = [];
  const list = (k: string): Json[] => (Array.isArray(spec[k]) ? (spec[k] as Json[]) : []);
  list('matchConditions').forEach((m, i) =>
    out.push({ path: `spec.matchConditions[${i}].expression`, expression: String(m['expression'] ?? '') }),
  );
  list('variables').forEach((v, i) =>
    out.push({ path: `spec.variables[${i}].expression`, expression: String(v['expression'] ?? '') }),
  );
  list('validations').forEach((v, i) => {
    out.push({ path: `spec.validations[${i}].expression`, expression: String(v['expression'] ?? '') });
    if (typeof v['messageExpression'] === 'string')
      out.push({ path: `spec.validations[${i}].messageExpression`, expression: v['messageExpression'] });
  });
  list('auditAnnotations').forEach((a, i) =>
    out.push({ path: `spec.auditAnnotations[${i}].valueExpression`, expression: String(a['valueExpression'] ?? '') }),
  );
  return out;
}

/** The estimate for every expression of a policy, and for one whole evaluation of it */
export function estimatePolicyCost(
  vap: Json,
  options: { bounds?: VapCostBounds; roots?: Record<string, Shape> } = {},
): PolicyCostEstimate {
  const bounds = options.bounds ?? DEFAULT_COST_BOUNDS;
  const spec = (vap['spec'] ?? {}) as Json;
  const variables: Record<string, string> = {};
  for (const v of Array.isArray(spec['variables']) ? (spec['variables'] as Json[]) : [])
    variables[String(v['name'])] = String(v['expression'] ?? '');
  const expressions = policyExpressions(vap).map((e) => {
    const isVariable = e.path.startsWith('spec.variables');
    // a variable's cost is charged where it is used; alone, it is its own expression
    const cost = estimateCost(e.expression, { bounds, roots: options.roots, variables });
    return { ...e, cost, isVariable };
  });
  // one evaluation: each non-variable expression, each variable once
  const shared = new Estimator({ bounds, roots: options.roots, variables });
  let total = 0;
  for (const e of expressions) if (!e.isVariable) total += shared.estimate(parseForCost(e.expression), new Map()).cost;
  const maxExpressionCost = Math.max(0, ...expressions.map((e) => e.cost));
  return {
    policy: String(((vap['metadata'] ?? {}) as Json)['name'] ?? ''),
    expressions: expressions.map(({ path, expression, cost }) => ({ path, expression, cost })),
    maxExpressionCost,
    total,
    withinPerCallLimit: maxExpressionCost <= PER_CALL_LIMIT,
    withinPolicyBudget: total <= RUNTIME_CEL_COST_BUDGET,
  };
}

/** The exact shape of a real value: the estimate instantiated with an object's actual sizes */
export function shapeOf(value: unknown): Shape {
  if (typeof value === 'string') return { kind: 'string', length: value.length };
  if (Array.isArray(value)) {
    let elem: Shape | undefined;
    for (const v of value) elem = elem ? unionShapes(elem, shapeOf(v)) : shapeOf(v);
    return { kind: 'list', items: value.length, elem: elem ?? SCALAR };
  }
  if (value && typeof value === 'object') {
    const fields: Record<string, Shape> = {};
    for (const [k, x] of Object.entries(value as Json)) if (x !== null && x !== undefined) fields[k] = shapeOf(x);
    return { kind: 'record', fields };
  }
  return SCALAR;
}

function unionShapes(a: Shape, b: Shape): Shape {
  if (a.kind === 'any' || b.kind === 'any') return ANY;
  // an empty literal ({} or []) adds nothing to what it is the alternative of
  if (a.kind === 'map' && a.entries === 0 && (b.kind === 'record' || b.kind === 'map')) return b;
  if (b.kind === 'map' && b.entries === 0 && (a.kind === 'record' || a.kind === 'map')) return a;
  if (a.kind === 'list' && a.items === 0 && b.kind === 'list') return b;
  if (b.kind === 'list' && b.items === 0 && a.kind === 'list') return a;
  if (a.kind === 'record' && b.kind === 'map')
    return {
      kind: 'map',
      entries: Math.max(Object.keys(a.fields).length, b.entries),
      value: unionShapes(
        b.value,
        Object.values(a.fields).reduce<Shape>((x, f) => unionShapes(x, f), SCALAR),
      ),
    };
  if (a.kind === 'map' && b.kind === 'record') return unionShapes(b, a);
  if (a.kind === 'record' && b.kind === 'record') {
    const fields: Record<string, Shape> = { ...a.fields };
    for (const [k, v] of Object.entries(b.fields)) fields[k] = fields[k] ? unionShapes(fields[k], v) : v;
    return { kind: 'record', fields };
  }
  if (a.kind === 'string' && b.kind === 'string') return { kind: 'string', length: Math.max(a.length, b.length) };
  if (a.kind === 'list' && b.kind === 'list')
    return { kind: 'list', items: Math.max(a.items, b.items), elem: unionShapes(a.elem, b.elem) };
  if (a.kind === 'map' && b.kind === 'map')
    return { kind: 'map', entries: Math.max(a.entries, b.entries), value: unionShapes(a.value, b.value) };
  if (a.kind === b.kind) return a;
  if (a.kind === 'scalar') return b;
  if (b.kind === 'scalar') return a;
  return ANY;
}
