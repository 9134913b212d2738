import type { AdmissionEvent, Finding } from '@portcullis/contracts';

export const POLICY = 'a7c1e0f2-1111-4a2b-8c3d-000000000001';

export function finding(overrides: Partial<Finding> = {}): Finding {
  return {
    policyId: POLICY,
    policyName: 'Default K8s misconfiguration rule',
    action: 'AUDIT',
    ruleId: 'privilege-escalation',
    container: 'web',
    path: 'spec.containers[0].securityContext.allowPrivilegeEscalation',
    message: 'container web must set securityContext.allowPrivilegeEscalation: false',
    exempted: false,
    ...overrides,
  };
}

let seq = 0;
/** A valid event; every call gets a fresh eventId. */
export function event(overrides: Record<string, unknown> = {}): AdmissionEvent {
  seq++;
  return {
    eventId: `6f1c2d3e-4b5a-4c6d-8e7f-${String(seq).padStart(12, '0')}`,
    occurredAt: '2025-06-01T12:00:00.123Z',
    operation: 'CREATE',
    dryRun: false,
    kind: 'Pod',
    apiVersion: 'v1',
    namespace: 'shop',
    name: 'web-7d9c5b6f4-x2x7q',
    owner: { kind: 'Deployment', name: 'web' },
    requestingUser: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'] },
    images: ['registry.example.com/shop/web:1.4.0'],
    decision: 'AUDITED',
    bundleRevision: 42,
    findings: [finding()],
    ...overrides,
  } as AdmissionEvent;
}
