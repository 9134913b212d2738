/**
 * The one rule for policy names, shared by the policy-file reader and the API's
 * createPolicy / updatePolicy / importPolicies: whatever one refuses, the others refuse
 * the same way, so every stored policy exports to a file that imports again.
 */

/** The names of the two policies every tenant starts with (DESIGN.md §3). */
export const DEFAULT_POLICY_NAMES = {
  MISCONFIGURATION: 'Default K8s misconfiguration rule',
  VULNERABILITY: 'Default vulnerability gating rule',
} as const;

export const POLICY_NAME_MAX = 200;

// Display names ("Default K8s misconfiguration rule"), so spaces are allowed; ASCII only, so no
// control, bidi or zero-width character and no letter from another script can pass for a Latin one.
// eslint-disable-next-line no-restricted-syntax -- built from a constant, not from text; the bounded repeat cannot backtrack past it
const NAME = new RegExp(`^[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,${POLICY_NAME_MAX - 2}}[A-Za-z0-9])?$`);

/** What a reader takes a name for: case, separators and digits that pass for letters do not tell names apart. */
function skeleton(name: string): string {
  return name
    .toLowerCase()
    .replace(/[\s._-]+/g, ' ')
    .replace(/0/g, 'o')
    .replace(/[1i]/g, 'l')
    .replace(/5/g, 's');
}

const DEFAULT_SKELETONS = new Map(Object.values(DEFAULT_POLICY_NAMES).map((n) => [skeleton(n), n]));

/**
 * The name as the API stores it: spaces (U+0020 only) around it dropped. String.trim() would
 * also drop a BOM, a no-break space or a line separator silently; those are refused instead.
 */
export const storedPolicyName = (name: string): string => name.replace(/^ +| +$/g, '');

/** Why `name` cannot be a policy name, or undefined when it can. */
export function policyNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || !NAME.test(name)) {
    return `is required: 1-${POLICY_NAME_MAX} letters, digits, spaces, ".", "_" or "-", starting and ending with a letter or digit`;
  }
  const lookalike = DEFAULT_SKELETONS.get(skeleton(name));
  if (lookalike !== undefined && lookalike !== name)
    return `"${name}" looks like the default policy "${lookalike}"; choose a name that cannot be mistaken for it`;
  return undefined;
}
