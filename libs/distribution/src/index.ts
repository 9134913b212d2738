export { policyScopeOf, scopeMatch, namespaceDecision } from './applicability';
export type { ScopedPolicy, ClusterRef, ScopeMatch, NamespaceDecision } from './applicability';
export { BundleCompiler } from './compiler';
export type { CompilerOptions, CompileResult, RevisionPublisher } from './compiler';
export { bundleChannel, credentialRevocationChannel, DISTRIBUTION_QUEUE } from './channels';
