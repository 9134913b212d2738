export type { Exemption, MatchMode, NamespaceScope, Policy, OwnerRef, Violation, EvaluationResult, EvaluationStatus } from './model';
export { compilePolicies, evaluatePolicies } from './evaluate';
export type { CompiledPolicy, EvaluateOptions } from './evaluate';
export { globRegExp, matches, namespaceDecision } from './matching';
export type { NamespaceDecision } from './matching';
export { MATCH_MODES, POLICY_API_VERSION, parsePolicyDocuments } from './policy-file';
export type { PolicyFileError, PolicyFileOptions, PolicyFileResult } from './policy-file';
export { serializePolicyDocuments } from './policy-file-writer';
export { DEFAULT_POLICY_NAMES, POLICY_NAME_MAX, policyNameProblem, storedPolicyName } from './policy-name';
