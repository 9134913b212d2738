import { randomUUID } from 'node:crypto';
import type { AdmissionEvent, Finding } from '@portcullis/contracts';

/** The policy a finding names unless told otherwise. */
export const FIXTURE_POLICY_ID = 'a7c1e0f2-1111-4a2b-8c3d-000000000001';

/**
 * A finding as an agent reports it: audit mode, not exempted, on container `app`.
 * `finding(overrides)` or `finding(policyId, ruleId, overrides)`; overrides replace any field.
 */
export function finding(overrides?: Partial<Finding>): Finding;
export function finding(policyId: string, ruleId: string, overrides?: Partial<Finding>): Finding;
export function finding(
  first: string | Partial<Finding> = {},
  ruleId?: string,
  overrides: Partial<Finding> = {},
): Finding {
  const given =
    typeof first === 'string' ? { policyId: first, ...(ruleId === undefined ? {} : { ruleId }), ...overrides } : first;
  const rule = given.ruleId ?? 'privilege-escalation';
  return {
    policyId: FIXTURE_POLICY_ID,
    policyName: 'Default K8s misconfiguration rule',
    action: 'AUDIT',
    ruleId: rule,
    container: 'app',
    path: 'spec.containers[0]',
    message: `container app breaks ${rule}`,
    exempted: false,
    ...given,
  };
}

/**
 * The one AdmissionEvent builder of the tests and benches: a valid event as the agent
 * uploads it, a replica of Deployment `web` created in namespace `shop` and allowed with
 * no findings, a fresh event id and the current time on every call. `overrides` replace
 * any field, and may add fields the contract does not know or set invalid values (tests
 * of refusals), hence the loose type.
 */
export function admissionEvent(overrides: Record<string, unknown> = {}): AdmissionEvent {
  return {
    eventId: randomUUID(),
    occurredAt: new Date().toISOString(),
    operation: 'CREATE',
    dryRun: false,
    kind: 'Pod',
    apiVersion: 'v1',
    namespace: 'shop',
    name: 'web-7d9c5b6f4-x2x7q',
    owner: { kind: 'Deployment', name: 'web' },
    requestingUser: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
    images: ['registry.example.com/shop/web:1.4.0'],
    decision: 'ALLOWED',
    bundleRevision: 1,
    findings: [],
    ...overrides,
  } as AdmissionEvent;
}
