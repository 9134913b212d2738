/**
 * Measures validateAdmissionEventBatch on batches of 500 realistic events, with and
 * without a pod snapshot. Prints one JSON line per case; not a test (no timing asserts).
 *   node dist/libs/contracts/scripts/measure-batch-validation.js
 */
import { randomUUID } from 'node:crypto';
import { validateAdmissionEventBatch } from '@portcullis/contracts';

const snapshot = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-7d9c-abcde', namespace: 'shop', labels: { app: 'web', tier: 'frontend' } },
  spec: {
    containers: [0, 1].map((i) => ({
      name: `c${i}`,
      image: `registry.example.com/shop/web:1.4.${i}`,
      resources: { limits: { cpu: '500m', memory: '256Mi' } },
      securityContext: { allowPrivilegeEscalation: true, privileged: false },
      env: Array.from({ length: 10 }, (_, j) => ({ name: `VAR_${j}`, value: `value-${j}` })),
    })),
  },
};

function event(i: number, withSnapshot: boolean): Record<string, unknown> {
  return {
    eventId: randomUUID(),
    occurredAt: new Date().toISOString(),
    operation: 'CREATE',
    dryRun: false,
    kind: 'Pod',
    apiVersion: 'v1',
    namespace: 'shop',
    name: `web-7d9c-${i}`,
    requestUid: randomUUID(),
    owner: { kind: 'Deployment', name: 'web' },
    requestingUser: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts', 'system:authenticated'] },
    images: ['registry.example.com/shop/web:1.4.0', 'registry.example.com/shop/web:1.4.1'],
    decision: 'AUDITED',
    bundleRevision: 42,
    findings: [0, 1, 2].map((j) => ({
      policyId: `a7c1e0f2-1111-4a2b-8c3d-00000000000${j}`,
      policyName: 'Default K8s misconfiguration rule',
      action: 'AUDIT',
      ruleId: 'privilege-escalation',
      container: 'c0',
      path: 'spec.containers[0].securityContext.allowPrivilegeEscalation',
      message: 'container c0 must set allowPrivilegeEscalation: false',
      exempted: false,
    })),
    ...(withSnapshot ? { snapshot } : {}),
  };
}

const BATCH = 500;
const RUNS = 100;
for (const withSnapshot of [false, true]) {
  const body = JSON.stringify({ events: Array.from({ length: BATCH }, (_, i) => event(i, withSnapshot)) });
  for (let i = 0; i < 20; i++) validateAdmissionEventBatch(JSON.parse(body));
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const parsed = JSON.parse(body) as unknown; // parsing is the HTTP layer's cost, outside the measurement
    const t = process.hrtime.bigint();
    const r = validateAdmissionEventBatch(parsed);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (!r.ok) throw new Error(JSON.stringify(r.errors[0]));
  }
  times.sort((a, b) => a - b);
  const median = times[RUNS / 2]!;
  console.log(JSON.stringify({ batch: BATCH, withSnapshot, bodyKiB: Math.round(body.length / 1024), medianMs: +median.toFixed(2), p95Ms: +times[Math.floor(RUNS * 0.95)]!.toFixed(2), eventsPerSecond: Math.round((BATCH / median) * 1000) }));
}
