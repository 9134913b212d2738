import type { ObjectRef, PolicyAction, PolicyType, RuleConfig } from '../types';

export type MatchMode = 'EQUALS' | 'PREFIX' | 'SUFFIX' | 'CONTAINS' | 'GLOB';

/**
 * Part of a policy (DESIGN.md §3): what it exempts — every given criterion must hold,
 * any value within one criterion may match — why, who granted it, until when.
 */
export interface Exemption {
  readonly id: string;
  readonly namespaces?: readonly string[];
  /** Workload kinds (Deployment, ...): the object's kind or its owner's. */
  readonly kinds?: readonly string[];
  /** Workload names: the object's name or its owner's. */
  readonly names?: readonly string[];
  /** Matched against the image's registry, repository (with and without registry) and digest. */
  readonly images?: readonly string[];
  readonly labelSelector?: Readonly<Record<string, string>> | null;
  /** VULNERABILITY policies: CVEs that no longer count. */
  readonly cves?: readonly string[];
  /** Limits the exemption to these rules; empty = every rule of the policy. */
  readonly rules?: readonly string[];
  readonly match: MatchMode;
  readonly reason: string;
  readonly grantedBy: string;
  readonly expiresAt?: string | null;
}

export interface NamespaceScope {
  readonly include: readonly string[];
  readonly exclude: readonly string[];
}

export interface Policy {
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  readonly type: PolicyType;
  readonly action: PolicyAction;
  /** Cloud scopes and clusters the policy targets (empty = all): the API and the bundle compiler use them; the engine does not. */
  readonly cloudScopes?: readonly string[];
  readonly clusters?: readonly string[];
  /** Namespace globs, applied at evaluation time (empty include = every namespace). */
  readonly namespaces: NamespaceScope;
  /** Enabled rules only, with their parameters. */
  readonly rules: readonly RuleConfig[];
  readonly exemptions: readonly Exemption[];
}

/** The workload an admitted object belongs to (a ReplicaSet's pod -> its Deployment), when the caller knows it. */
export interface OwnerRef {
  readonly kind: string;
  readonly name: string;
}

export interface Violation {
  readonly policy: string;
  readonly policyId: string;
  readonly rule: string;
  readonly action: PolicyAction;
  readonly container?: string;
  readonly path: string;
  readonly message: string;
  readonly exempted: boolean;
  readonly exemptionId?: string;
  readonly image?: string;
  readonly count?: number;
  readonly threshold?: number;
  readonly reason?: string;
  readonly cves?: readonly string[];
}

export type EvaluationStatus = 'evaluated' | 'not-applicable' | 'cannot-evaluate';

export interface EvaluationResult {
  readonly status: EvaluationStatus;
  readonly object?: ObjectRef;
  /** deny when some violation `isBlocking`: a BLOCK policy's, not exempted, not a crashed rule. */
  readonly decision: 'allow' | 'deny';
  readonly violations: readonly Violation[];
  /** Policies whose namespace scope matched (ids). */
  readonly policiesEvaluated: readonly string[];
  readonly reason?: string;
}
