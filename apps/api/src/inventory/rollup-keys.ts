import { decisionFor, type AdmissionDecision, type AdmissionEvent, type Finding } from '@portcullis/contracts';

/** One row an admission adds to the rollups: '' policy = the admission itself, '' rule = one policy's outcome. */
export interface RollupKey {
  readonly policyId: string;
  readonly ruleId: string;
  readonly decision: AdmissionDecision;
}

/**
 * The rollup rows of one admission: the admission with its decision (once), each
 * policy with findings with that policy's outcome, and each rule with findings with
 * the rule's outcome. An outcome is what the findings imply on their own: DENIED for
 * a Block finding no exemption covered, AUDITED for an Audit one, EXEMPTED when all
 * were exempted — so "would Block deny it" is "outcome is AUDITED or DENIED".
 */
export function rollupKeys(event: Pick<AdmissionEvent, 'decision' | 'findings'>): RollupKey[] {
  const keys: RollupKey[] = [{ policyId: '', ruleId: '', decision: event.decision }];
  if (event.findings.length === 0) return keys;
  const byPolicy = new Map<string, Finding[]>();
  const byRule = new Map<string, Finding[]>();
  for (const f of event.findings) {
    push(byPolicy, f.policyId, f);
    push(byRule, `${f.policyId}\u0000${f.ruleId}`, f);
  }
  for (const [policyId, findings] of byPolicy) keys.push({ policyId, ruleId: '', decision: decisionFor(findings) });
  for (const [key, findings] of byRule) {
    const [policyId, ruleId] = key.split('\u0000') as [string, string];
    keys.push({ policyId, ruleId, decision: decisionFor(findings) });
  }
  return keys;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * A rollup key as admission_rollup_staging.keys holds it: 'DECISION:rule:policy'. Decisions
 * and rule ids have no ':', so the policy id comes last and may hold any character;
 * admission_rollups_flush() splits it back.
 */
export function stagedKey(key: RollupKey): string {
  return `${key.decision}:${key.ruleId}:${key.policyId}`;
}

/** Outcomes that mean "Block mode would deny this admission". */
export const WOULD_DENY: readonly AdmissionDecision[] = ['AUDITED', 'DENIED'];
