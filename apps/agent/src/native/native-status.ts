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
  /** `<kind>/<name>` of the objects applied, and of those refused with the reason */
  applied: ReadonlySet<string>,
  failures: ReadonlyMap<string, string>,
): NativeStatus['policies'] {
  // a VAP and its binding share a name: a policy's objects are every kind of each of its names
  const keysByName = new Map<string, string[]>();
  for (const o of compilation.objects) {
    const name = String((o['metadata'] as { name?: unknown } | undefined)?.name ?? '');
    keysByName.set(name, [...(keysByName.get(name) ?? []), `${String(o['kind'])}/${name}`]);
  }
  return compilation.policies.slice(0, L.policies).map((p) => {
    const keys = p.objectNames.flatMap((n) => keysByName.get(n) ?? []);
    const objects = keys.filter((k) => applied.has(k)).length;
    const failed = keys.filter((k) => failures.has(k)).map((k) => failures.get(k)!);
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
      reason = `${failed.length} of ${keys.length} objects not applied: ${[...new Set(failed)].join('; ')}`;
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
