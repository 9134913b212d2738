export { RULE_CATALOG, findRule, validateRuleParams, defaultRuleConfigs, PRESET_IDS, expandPreset } from './catalog';
export type { PresetId } from './catalog';
export { compileRules, runRules } from './run';
export { SCHEMA_PATTERNS } from './params';
export type { CompiledRuleSet } from './run';
export { CONTAINER_LISTS, POD_TEMPLATE_ROUTES, inspectObject, replicaInvariant } from '../workload';
export type {
  InspectedObject,
  PodTarget,
  IngressTarget,
  GenericTarget,
  NotApplicable,
  CannotEvaluate,
  ContainerView,
} from '../workload';
export { normalizeImage } from '../image';
export type { ImageReference } from '../image';
export { parseQuantity } from '../quantity';
