import * as http from 'node:http';
import type { AdmissionEvent, Finding } from '@portcullis/contracts';
import { admissionEvent, finding } from '@portcullis/testing';

/** Workloads and admissions shaped like a real fleet: Deployments with replicas, a few violations each. */
export interface BenchWorkload {
  readonly namespace: string;
  readonly name: string;
  /** Rules this workload's pod spec breaks (audit mode). */
  readonly rules: readonly string[];
  /** Distinct pod specs (image versions) it is admitted with. */
  readonly versions: number;
}

const RULES = [
  'resource-limits',
  'privileged-container',
  'run-as-non-root',
  'read-only-root-filesystem',
  'host-namespaces',
];

export function benchWorkloads(count: number, namespaces: number, versions = 1): BenchWorkload[] {
  return Array.from({ length: count }, (_, i) => ({
    namespace: `ns-${i % namespaces}`,
    name: `app-${i}`,
    // about a third comply, the rest break one to three rules
    rules: i % 3 === 0 ? [] : RULES.filter((_, r) => (i + r) % 4 === 0 || r === i % RULES.length).slice(0, 1 + (i % 3)),
    versions,
  }));
}

/** The pod spec a workload version is admitted with; what breaks which rule mirrors `rules`. */
export function benchPod(w: BenchWorkload, version: number): Record<string, unknown> {
  const broken = new Set(w.rules);
  const container: Record<string, unknown> = {
    name: 'app',
    image: `registry.example.com/${w.name}:1.${version}`,
    ...(broken.has('resource-limits') ? {} : { resources: { limits: { cpu: '500m', memory: '256Mi' } } }),
    securityContext: {
      allowPrivilegeEscalation: false,
      privileged: broken.has('privileged-container'),
      readOnlyRootFilesystem: !broken.has('read-only-root-filesystem'),
      ...(broken.has('run-as-non-root') ? { runAsUser: 0 } : { runAsNonRoot: true, runAsUser: 10001 }),
      capabilities: { drop: ['ALL'] },
    },
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: `${w.name}-`, namespace: w.namespace, labels: { app: w.name } },
    spec: {
      automountServiceAccountToken: false,
      ...(broken.has('host-namespaces') ? { hostNetwork: true } : {}),
      containers: [container],
    },
  };
}

export function benchFindings(policyId: string, w: BenchWorkload): Finding[] {
  return w.rules.map((ruleId) => finding(policyId, ruleId));
}

export function benchEvent(policyId: string, w: BenchWorkload, at: Date, version: number): AdmissionEvent {
  const findings = benchFindings(policyId, w);
  return admissionEvent({
    occurredAt: at.toISOString(),
    namespace: w.namespace,
    name: '',
    owner: { kind: 'Deployment', name: w.name },
    requestingUser: {
      username: 'system:serviceaccount:kube-system:replicaset-controller',
      groups: ['system:serviceaccounts'],
    },
    images: [`registry.example.com/${w.name}:1.${version}`],
    decision: findings.length ? 'AUDITED' : 'ALLOWED',
    bundleRevision: 7,
    findings,
    snapshot: benchPod(w, version),
  });
}

/** POST /agent/v1/admission-events with a gzipped batch as an agent sends it; the status code. */
export function postEventBatch(pool: http.Agent, port: number, token: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent: pool,
        port,
        host: '127.0.0.1',
        method: 'POST',
        path: '/agent/v1/admission-events',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          'content-length': body.length,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
