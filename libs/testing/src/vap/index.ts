export { escapeFieldName, evaluateVap, selectorMatches, vapRequestFor } from './evaluate';
export type {
  GroupVersionKind,
  GroupVersionResource,
  VapAuditEntry,
  VapDenial,
  VapError,
  VapEvaluateOptions,
  VapOutcome,
  VapRequest,
} from './evaluate';
export {
  CelCompileError,
  CelEvalError,
  KUBERNETES_CEL_FUNCS,
  compileCel,
  fromCelValue,
  rewriteOptionals,
  toCelValue,
} from './cel';
export type { CelProgram } from './cel';
export { isQuantity, parseQuantity, quantityKey } from './quantity';
export type { Quantity } from './quantity';
export {
  DEFAULT_COST_BOUNDS,
  PER_CALL_LIMIT,
  RUNTIME_CEL_COST_BUDGET,
  estimateCost,
  estimatePolicyCost,
  policyExpressions,
  shapeOf,
} from './cost';
export type { CostContext, PolicyCostEstimate, Shape, VapCostBounds } from './cost';
export { validateVapObject } from './validate';
export type { VapValidationError } from './validate';
