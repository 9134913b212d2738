import * as path from 'node:path';
import { generateSigningKey, type BundlePolicy } from '@portcullis/bundle';
import type { AdmissionEvent } from '@portcullis/contracts';
import { defaultRuleConfigs } from '@portcullis/policy-engine';
import {
  ControlPlane,
  agentEnv,
  eventually,
  newAgentToken,
  spawnAgent,
  tempDir,
  testTls,
  type AgentProcess,
  type TestTls,
} from '@portcullis/testing';
import { workspace as cliWorkspace } from '../support/cli';

export { portcullis, type CliRun } from '../support/cli';

/** A temporary directory holding the given files (relative path -> content). */
export function workspace(files: Record<string, string>): string {
  return cliWorkspace(files, 'portcullis-admit-');
}

const rule = (id: string, params: Record<string, unknown> = {}) => {
  const r = defaultRuleConfigs('MISCONFIGURATION').find((c) => c.id === id);
  return { id, params: { ...r?.params, ...params } };
};

/**
 * The policies the admit tests run against. Block: no privileged container, and only
 * volumes of a short list (so the projected service-account token volume the
 * ServiceAccount plugin injects into a Pod is refused where the pod template had none).
 * Audit: resource limits, so a container without them gives a warning.
 */
export const POLICIES: readonly BundlePolicy[] = [
  {
    id: 'shop-hardening',
    name: 'shop-hardening',
    type: 'MISCONFIGURATION',
    action: 'BLOCK',
    namespaces: { include: [], exclude: [] },
    rules: [
      rule('privileged-container'),
      rule('volume-types', { allowedTypes: ['configMap', 'emptyDir', 'secret', 'persistentVolumeClaim'] }),
    ],
    exemptions: [],
  },
  {
    id: 'limits-audit',
    name: 'Default K8s misconfiguration rule',
    type: 'MISCONFIGURATION',
    action: 'AUDIT',
    namespaces: { include: [], exclude: [] },
    rules: [rule('resource-limits')],
    exemptions: [],
  },
];

/** A real agent process (the compiled dist/apps/agent) enforcing POLICIES, its CA in a file. */
export class LiveAgent {
  private agent: AgentProcess | null = null;
  private api: ControlPlane | null = null;
  tls!: TestTls;
  dir!: string;
  caFile!: string;

  async start(): Promise<this> {
    this.tls = testTls();
    this.dir = tempDir('portcullis-admit-agent-');
    const token = newAgentToken();
    this.api = await new ControlPlane(this.tls, token, generateSigningKey()).start();
    this.api.publish(POLICIES);
    this.agent = await spawnAgent(
      agentEnv({
        dir: this.dir,
        apiUrl: `https://127.0.0.1:${this.api.port}`,
        token,
        jwks: this.api.jwks,
        tls: this.tls,
      }),
    );
    this.caFile = path.join(this.dir, 'ca.crt');
    await eventually('the bundle applied', async () => {
      const res = await fetch(`http://127.0.0.1:${this.agent!.metricsPort}/readyz`, {
        signal: AbortSignal.timeout(10_000),
      });
      return ((await res.json()) as { bundleRevision: number | null }).bundleRevision === 1;
    });
    return this;
  }

  get webhookUrl(): string {
    return `https://127.0.0.1:${this.agent!.webhookPort}/validate`;
  }

  /** The events the agent uploaded, once every id given has arrived. */
  async events(ids: readonly string[]): Promise<AdmissionEvent[]> {
    return eventually(`events ${ids.join(', ')} uploaded`, () =>
      ids.every((id) => this.api!.events.has(id)) ? ids.map((id) => this.api!.events.get(id)!) : undefined,
    );
  }

  /** Every event uploaded so far matching `where`. */
  eventsWhere(where: (e: AdmissionEvent) => boolean): AdmissionEvent[] {
    return [...this.api!.events.values()].filter(where);
  }

  /** Reviews the agent has answered (its decisions counter): exact at once, unlike uploads. */
  async reviewsAnswered(): Promise<number> {
    const text = await (
      await fetch(`http://127.0.0.1:${this.agent!.metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) })
    ).text();
    let total = 0;
    for (const line of text.split('\n'))
      if (line.startsWith('portcullis_agent_admission_decisions_total{'))
        total += Number(line.slice(line.lastIndexOf(' ') + 1));
    return total;
  }

  async stop(): Promise<void> {
    if (this.agent) {
      this.agent.child.kill('SIGTERM');
      await this.agent.exited;
    }
    await this.api?.stop();
  }
}

/** A Deployment in namespace shop; `extra` goes into its pod spec, `container` into its one container. */
export function deployment(
  name: string,
  o: { replicas?: number; image?: string; container?: string; podSpec?: string } = {},
): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: shop
spec:
  replicas: ${o.replicas ?? 1}
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
${o.podSpec ?? '      automountServiceAccountToken: false'}
      containers:
        - name: app
          image: ${o.image ?? 'ghcr.io/acme/app:1.0.0'}
${o.container ?? '          resources: { limits: { cpu: 200m, memory: 128Mi } }'}
`;
}
