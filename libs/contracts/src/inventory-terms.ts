import type { AdmissionEvent } from './admission-event-model';

/**
 * The filter terms of the admission inventory (admission_events.terms, one GIN index): what
 * ingest stores for an event and what a query asks for are built here, so the two cannot
 * disagree on a prefix.
 */
const TERM = { cluster: 'c:', namespace: 'n:', workload: 'w:', image: 'i:', policy: 'p:', rule: 'r:' } as const;

/** The prefixed terms of an event stored for cluster `clusterId` (as the agent credential names it: lowercase). */
export function eventTerms(clusterId: string, e: AdmissionEvent): string[] {
  const out = [
    TERM.cluster + clusterId,
    TERM.namespace + (e.namespace ?? ''),
    `${TERM.workload}${e.owner.kind}/${e.owner.name}`,
  ];
  // a handful per event: scanning the array costs less than a Set
  for (const image of e.images) addTerm(out, TERM.image + image);
  for (const f of e.findings) {
    addTerm(out, TERM.policy + f.policyId);
    addTerm(out, TERM.rule + f.ruleId);
  }
  return out;
}

function addTerm(terms: string[], term: string): void {
  if (!terms.includes(term)) terms.push(term);
}

/** The inventory filters that are terms; `workload` is `kind/name`, `namespace` '' for cluster-scoped objects. */
export interface InventoryTermFilter {
  readonly clusterId?: string;
  readonly namespace?: string;
  readonly policyId?: string;
  readonly ruleId?: string;
  readonly image?: string;
  readonly workload?: string;
}

/** The terms an event must all hold to pass the filter (none: every event passes). */
export function filterTerms(f: InventoryTermFilter): string[] {
  const out: string[] = [];
  if (f.clusterId) out.push(TERM.cluster + f.clusterId.toLowerCase());
  if (f.namespace !== undefined) out.push(TERM.namespace + f.namespace);
  if (f.policyId) out.push(TERM.policy + f.policyId);
  if (f.ruleId) out.push(TERM.rule + f.ruleId);
  if (f.image) out.push(TERM.image + f.image);
  if (f.workload) out.push(TERM.workload + f.workload);
  return out;
}
