export type { Exemption, MatchMode, NamespaceScope, Policy, OwnerRef, Violation, EvaluationResult, EvaluationStatus } from './model';
export { compilePolicies, evaluatePolicies } from './evaluate';
export type { CompiledPolicy, EvaluateOptions } from './evaluate';
export { globRegExp, matches, namespaceDecision } from './matching';
export type { NamespaceDecision } from './matching';
export { parsePolicyDocuments, serializePolicyDocuments, toPolicy } from './policy-file';
export type { PolicyDocument, PolicyFileError, PolicyFileResult } from './policy-file';
