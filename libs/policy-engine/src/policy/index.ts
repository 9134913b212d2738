export type {
  Exemption,
  MatchMode,
  NamespaceScope,
  Policy,
  OwnerRef,
  Violation,
  EvaluationResult,
  EvaluationStatus,
} from './model';
export { compilePolicies, evaluatePolicies, isBlocking, wouldBlock } from './evaluate';
export type { CompiledPolicy, EvaluateOptions } from './evaluate';
export { matches, namespaceDecision } from './matching';
export {
  MAX_NAMESPACE_PATTERN_LENGTH,
  MAX_PATTERNS_PER_LIST,
  MAX_PATTERN_LENGTH,
  MAX_SUBJECT_LENGTH,
  cachedMatcher,
  compileGlob,
  compileMatcher,
} from './pattern-matcher';
export type { GlobOptions, Matcher } from './pattern-matcher';
export type { NamespaceDecision } from './matching';
export { MATCH_MODES, POLICY_API_VERSION, parsePolicyDocuments } from './policy-file';
export type { PolicyFileError, PolicyFileOptions, PolicyFileResult } from './policy-file';
export { serializePolicyDocuments, serializePolicyDocument, joinPolicyDocuments } from './policy-file-writer';
export { DEFAULT_POLICY_NAMES, POLICY_NAME_MAX, policyNameProblem, storedPolicyName } from './policy-name';
