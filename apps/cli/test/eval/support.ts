import { workspace as cliWorkspace, type CliRun } from '../support/cli';

export { portcullis } from '../support/cli';
export type { CliRun } from '../support/cli';

/** A temporary directory holding the given files (relative path -> content). */
export function workspace(files: Record<string, string>): string {
  return cliWorkspace(files, 'portcullis-eval-');
}

const HARDENED_CONTAINER = `
        - name: web
          image: ghcr.io/acme/web:1.4.2
          resources: { limits: { cpu: 500m, memory: 256Mi } }
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            capabilities: { drop: [ALL] }`;

/** A Deployment every default rule accepts (in namespace `shop`). */
export const HARDENED = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: shop }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      automountServiceAccountToken: false
      containers:${HARDENED_CONTAINER}
`;

/** A privileged DaemonSet with no limits (namespace `kube-system`). */
export const PRIVILEGED = `apiVersion: apps/v1
kind: DaemonSet
metadata: { name: node-agent, namespace: kube-system }
spec:
  template:
    spec:
      hostNetwork: true
      containers:
        - name: agent
          image: quay.io/acme/agent:3
          securityContext: { privileged: true }
`;

export const SERVICE = `apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { ports: [{ port: 80 }] }
`;

export const parseJson = <T = JsonReport>(run: CliRun): T => JSON.parse(run.stdout) as T;

export interface JsonReport {
  results: Array<{
    source: string;
    index: number;
    kind: string;
    namespace: string | null;
    name: string;
    decision: 'allow' | 'deny';
    status: string;
    reason?: string;
    violations: Array<{
      policy: string;
      rule: string;
      action: string;
      message: string;
      path: string;
      container?: string;
      exempted?: boolean;
    }>;
  }>;
  summary: Record<string, number>;
}
