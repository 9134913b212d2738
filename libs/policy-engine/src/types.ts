// Shared vocabulary of the policy engine. Pure data: no framework, no I/O.
// The rule layer (catalog, rules, workload extraction) and the policy layer
// (policy files, scopes, exemptions, decisions) both speak these types.

export type PolicyType = 'MISCONFIGURATION' | 'VULNERABILITY';
export type PolicyAction = 'AUDIT' | 'BLOCK';
export type PssLevel = 'baseline' | 'restricted';
export type RuleCategory =
  | 'resources'
  | 'privileges'
  | 'host-access'
  | 'images'
  | 'network'
  | 'filesystem'
  | 'kernel'
  | 'namespaces'
  | 'vulnerabilities';

/** A JSON Schema (draft 2020-12 subset) describing one rule's parameters. */
export interface JsonSchema {
  type?:
    | 'object'
    | 'array'
    | 'string'
    | 'number'
    | 'integer'
    | 'boolean'
    | 'null'
    | Array<'string' | 'number' | 'integer' | 'null' | 'boolean'>;
  description?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  required?: string[];
  additionalProperties?: boolean;
  enum?: Array<string | number | boolean | null>;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
  default?: unknown;
}

export type RuleParams = Record<string, unknown>;

export interface RuleDefinition {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly category: RuleCategory;
  readonly policyType: PolicyType;
  /** PSS levels whose preset includes this rule. */
  readonly pssLevels: readonly PssLevel[];
  readonly defaultEnabled: boolean;
  /** Parameter schema; every property carries its default. */
  readonly parameters: JsonSchema;
  readonly remediation: string;
}

/** One rule as configured inside a policy: its id and fully-defaulted parameters. */
export interface RuleConfig {
  readonly id: string;
  readonly params: RuleParams;
}

export interface ParamError {
  readonly rule: string;
  /** Parameter name, with a JSON-pointer-like suffix for nested values, e.g. `allowedUserIds[1].max`. */
  readonly param: string;
  readonly message: string;
}

export type ParamValidation =
  { readonly ok: true; readonly params: RuleParams } | { readonly ok: false; readonly errors: readonly ParamError[] };

/** What a rule found wrong. `path` is a JSON path into the evaluated object. */
export interface RuleFinding {
  readonly rule: string;
  readonly container?: string;
  readonly path: string;
  /** Says what is wrong and how to fix it. */
  readonly message: string;
  /** Image the finding is about (vulnerability rules, trusted registries). */
  readonly image?: string;
  /** For threshold rules: the count found and the threshold. */
  readonly count?: number;
  readonly threshold?: number;
  /** For vulnerability rules: a stable reason code (e.g. NO_ARTIFACT, ARTIFACT_TOO_OLD, LOOKUP_FAILED, OVER_THRESHOLD, BLOCKED_CVE). */
  readonly reason?: string;
  /** CVE ids involved (vulnerability rules). */
  readonly cves?: readonly string[];
}

/** A Kubernetes object the engine understands, reduced to what the rules need. */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Severity counts and findings of one image's scan artifact, as the caller passes it in. */
export interface VulnerabilityFinding {
  readonly id: string;
  readonly severity: 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'UNKNOWN';
  readonly packageName?: string;
  readonly installedVersion?: string;
  readonly fixedVersion?: string;
  readonly cvss?: number;
}

export interface ScanArtifactSummary {
  readonly image: string;
  readonly digest?: string;
  readonly scannedAt: string;
  readonly findings: readonly VulnerabilityFinding[];
}

/** How the caller resolved an image to its scan artifact. */
export type ArtifactLookup =
  | { readonly status: 'found'; readonly artifact: ScanArtifactSummary }
  | { readonly status: 'not-found' }
  | { readonly status: 'lookup-failed'; readonly error: string };

export interface EvaluationContext {
  /** Namespace to assume for objects that carry none. */
  readonly defaultNamespace: string;
  /** Evaluation time (exemption expiry, artifact age). */
  readonly now: Date;
  /** Resolves an image reference (as written in the spec) to its scan artifact; absent = vulnerability rules see lookup-failed. */
  readonly scanArtifacts?: (image: string) => ArtifactLookup;
  /** Counts the pattern matcher's steps over the evaluation (namespace scopes, exemptions, allowed images), for tests. */
  readonly matchSteps?: MatchCounter;
}

/** Counts the pattern matcher's word operations, so tests bound work by steps, not time. */
export interface MatchCounter {
  steps: number;
}
