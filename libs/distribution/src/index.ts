export { scopeMatch, namespaceGlob, namespaceDecision } from './applicability';
export type { ScopedPolicy, ClusterRef, ScopeMatch, NamespaceDecision } from './applicability';
