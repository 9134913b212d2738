export { evaluateVap, selectorMatches, vapRequestFor } from './evaluate';
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
