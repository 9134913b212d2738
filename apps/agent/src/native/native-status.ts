import {
  NATIVE_LIMITS,
  withoutControlCharacters,
  type NativePolicyStateName,
  type NativeStatus,
} from '@portcullis/contracts';
import type { Compilation } from './compiled';

export type { NativeStatus };

const L = NATIVE_LIMITS;

const clip = (s: string, max: number) => {
  const t = withoutControlCharacters(s);
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
};

/**
 * Per policy: NOT_COMPILED (the compiler's reasons), APPLY_FAILED (the API's reasons for the
 * objects it refused), PARTIAL (some rules or patterns could not be expressed), else ENFORCED.
 */
export function policyStates(
  compilation: Compilation,
  applied: ReadonlySet<string>,
  failures: ReadonlyMap<string, string>,
): NativeStatus['policies'] {
  return compilation.policies.slice(0, L.policies).map((p) => {
    const objects = p.objectNames.filter((n) => applied.has(n)).length;
    const failed = p.objectNames.filter((n) => failures.has(n)).map((n) => failures.get(n)!);
    const unsupported = p.unsupported.slice(0, L.unsupported).map((u) => ({
      ...(u.rule !== undefined ? { rule: clip(u.rule, L.rule) } : {}),
      what: clip(u.what, L.what),
      reason: clip(u.reason, L.unsupportedReason),
    }));
    const notExpressed = unsupported.map((u) => `${u.rule ? `${u.rule}: ` : ''}${u.what}: ${u.reason}`).join('; ');
    let state: NativePolicyStateName;
    let reason: string | null = null;
    if (p.state === 'NOT_COMPILED') {
      state = 'NOT_COMPILED';
      reason = notExpressed || 'nothing in this policy can be expressed as a ValidatingAdmissionPolicy';
    } else if (failed.length > 0) {
      state = 'APPLY_FAILED';
      reason = `${failed.length} of ${p.objectNames.length} objects refused: ${[...new Set(failed)].join('; ')}`;
    } else if (p.state === 'PARTIAL') {
      state = 'PARTIAL';
      reason = `enforced natively except: ${notExpressed}`;
    } else state = 'ENFORCED';
    return {
      policyId: p.policyId,
      state,
      reason: reason === null ? null : clip(reason, L.reason),
      objects,
      ...(unsupported.length > 0 ? { unsupported } : {}),
    };
  });
}
