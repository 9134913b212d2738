// Workload extraction: from any manifest to the pod spec (or Ingress) the rules evaluate.
export { CONTAINER_LISTS, inspectObject, isObject } from './inspect';
export { replicaInvariant } from './replica-invariant';
export { CLUSTER_SCOPED_KINDS, INGRESS_API_VERSIONS, POD_TEMPLATE_ROUTES, isListKind } from './kinds';
export type {
  CannotEvaluate,
  ContainerView,
  GenericTarget,
  IngressTarget,
  InspectedObject,
  NotApplicable,
  PodTarget,
} from './target';
