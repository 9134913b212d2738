import type { BundlePolicy } from '@portcullis/bundle';

/**
 * The shape of @portcullis/vap's compileVap that the reconciler relies on (injected: the agent
 * passes compileVap; a test may pass another).
 */
export interface CompiledPolicy {
  readonly policyId: string;
  readonly policyName: string;
  readonly state: 'COMPILED' | 'PARTIAL' | 'NOT_COMPILED';
  readonly objectNames: readonly string[];
  readonly unsupported: ReadonlyArray<{ readonly rule?: string; readonly what: string; readonly reason: string }>;
}

export interface Compilation {
  readonly objects: ReadonlyArray<Record<string, unknown>>;
  readonly policies: readonly CompiledPolicy[];
  readonly nextExpiry?: string;
}

export type CompileVap = (
  policies: readonly BundlePolicy[],
  options: {
    readonly now: Date;
    readonly labels: Readonly<Record<string, string>>;
    readonly excludedNamespaces: readonly string[];
  },
) => Compilation;

/** Labels the compiler puts on every object: which policy and rule it enforces. */
export { LABEL_POLICY_ID as POLICY_ID_LABEL, LABEL_RULE as RULE_LABEL } from '@portcullis/vap';
