import { parseMetricFamily } from './prometheus-text';
import { NATIVE_CHECK_ACTIONS, NATIVE_LIMITS, type NativeCheckAction, type NativeStatus } from '@portcullis/contracts';

/**
 * kube-apiserver's counter of ValidatingAdmissionPolicy outcomes. Its labels are `policy`
 * (the VAP's name), `policy_binding`, `enforcement_action` (allow | deny | warn | audit) and,
 * depending on the version, `error_type` or `state`/`params`/`validation_expression`: counts
 * are summed over everything but policy and action.
 */
export const CHECK_METRIC = 'apiserver_validating_admission_policy_check_total';

const ACTIONS: ReadonlySet<string> = new Set<string>(NATIVE_CHECK_ACTIONS);
const INT4_MAX = 2_147_483_647;

/** VAP name -> the policy and rule it was compiled from (only the agent's own objects). */
export type VapIndex = ReadonlyMap<string, { readonly policyId: string; readonly rule: string }>;

/**
 * Native denials and warnings per policy, rule and action, from the metric lines. VAPs that
 * are not ours are ignored; `allow` outcomes are not counted.
 */
export function nativeChecks(text: string, index: VapIndex): NonNullable<NativeStatus['checks']> {
  const totals = new Map<
    string,
    { policyId: string; rule: string; enforcementAction: NativeCheckAction; count: number }
  >();
  for (const s of parseMetricFamily(text, CHECK_METRIC).samples) {
    const ours = index.get(s.labels['policy'] ?? '');
    const action = s.labels['enforcement_action'] ?? '';
    if (!ours || !ACTIONS.has(action) || !Number.isFinite(s.value) || s.value <= 0) continue;
    const key = `${ours.policyId}\u0000${ours.rule}\u0000${action}`;
    const t = totals.get(key);
    if (t) t.count += s.value;
    else
      totals.set(key, {
        policyId: ours.policyId,
        rule: ours.rule,
        enforcementAction: action as NativeCheckAction,
        count: s.value,
      });
  }
  return [...totals.values()]
    .sort((a, b) =>
      a.policyId === b.policyId
        ? a.rule === b.rule
          ? a.enforcementAction.localeCompare(b.enforcementAction)
          : a.rule.localeCompare(b.rule)
        : a.policyId.localeCompare(b.policyId),
    )
    .slice(0, NATIVE_LIMITS.checks)
    .map((t) => ({ ...t, count: Math.min(INT4_MAX, Math.floor(t.count)) }));
}
