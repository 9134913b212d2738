import { decisionFor, type AdmissionEvent, type Finding } from '@portcullis/contracts';

/**
 * The rollup rows of one admission, as admission_rollup_staging.keys holds them
 * ('DECISION:rule:policy'): the admission with its decision (once, '' rule and policy), each
 * policy with findings with that policy's outcome ('' rule), and each rule with findings
 * with the rule's outcome. An outcome is what the findings imply on their own: DENIED for a
 * Block finding no exemption covered, AUDITED for an Audit one, EXEMPTED when all were
 * exempted — so "would Block deny it" is "outcome is AUDITED or DENIED". Decisions and rule
 * ids have no ':', so the policy id comes last and may hold any character;
 * admission_rollups_flush() splits it back. Runs once per ingested event: one finding, the
 * common case, builds no maps.
 */
export function stagedKeys(event: Pick<AdmissionEvent, 'decision' | 'findings'>): string[] {
  const admission = `${event.decision}::`;
  const findings = event.findings;
  if (findings.length === 0) return [admission];
  if (findings.length === 1) {
    const f = findings[0]!;
    const outcome = decisionFor(findings);
    return [admission, `${outcome}::${f.policyId}`, `${outcome}:${f.ruleId}:${f.policyId}`];
  }
  const keys = [admission];
  const byPolicy = new Map<string, Finding[]>();
  const byRule = new Map<string, Finding[]>();
  for (const f of findings) {
    push(byPolicy, f.policyId, f);
    push(byRule, `${f.ruleId}:${f.policyId}`, f);
  }
  for (const [policyId, of] of byPolicy) keys.push(`${decisionFor(of)}::${policyId}`);
  for (const [ruleAndPolicy, of] of byRule) keys.push(`${decisionFor(of)}:${ruleAndPolicy}`);
  return keys;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
