import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AGENT_NODE_FLAGS, repoPath } from '@portcullis/config';
import type { AgentTls } from './tls';

/** One demo agent: the compiled agent (dist/apps/agent/src/main.js) as its own process, as the image runs it. */
export interface DemoAgent {
  readonly clusterId: string;
  readonly clusterName: string;
  readonly dir: string;
  readonly caFile: string;
  readonly bundlePath: string;
  readonly webhookUrl: string;
  readonly metricsUrl: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface AgentFiles {
  readonly dir: string;
  readonly clusterId: string;
  readonly clusterName: string;
  readonly apiUrl: string;
  readonly agentToken: string;
  readonly jwks: unknown;
  readonly tls: AgentTls;
}

/** The namespaces an agent excludes by default (PORTCULLIS_AGENT_NAMESPACE and kube-system). */
export const AGENT_DEFAULT_EXCLUSIONS: readonly string[] = ['portcullis-system', 'kube-system'];

/**
 * Writes what the chart would mount (TLS key pair, the CA, the credential, the JWKS) into
 * `dir`, files 0600, and starts the agent with the environment the chart sets: loopback,
 * ports the system picks, bundle and spool persisted under `dir/state`, default timings.
 * Resolves once the agent logs that it started (the log goes to `dir/agent.log`).
 */
export async function startAgent(f: AgentFiles): Promise<DemoAgent> {
  fs.mkdirSync(path.join(f.dir, 'state'), { recursive: true, mode: 0o700 });
  const file = (name: string, text: string) => {
    const p = path.join(f.dir, name);
    fs.writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  const caFile = file('ca.crt', f.tls.caPem);
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    PORTCULLIS_API_URL: f.apiUrl,
    PORTCULLIS_CLUSTER_ID: f.clusterId,
    PORTCULLIS_AGENT_TOKEN_FILE: file('agent-token', `${f.agentToken}\n`),
    PORTCULLIS_TRUSTED_KEYS_FILE: file('jwks.json', JSON.stringify(f.jwks)),
    PORTCULLIS_BUNDLE_PATH: path.join(f.dir, 'state', 'bundle.json'),
    PORTCULLIS_SPOOL_DIR: path.join(f.dir, 'state', 'spool'),
    PORTCULLIS_TLS_CERT_FILE: file('tls.crt', f.tls.certPem),
    PORTCULLIS_TLS_KEY_FILE: file('tls.key', f.tls.keyPem),
    PORTCULLIS_WEBHOOK_HOST: '127.0.0.1',
    PORTCULLIS_WEBHOOK_PORT: '0',
    PORTCULLIS_METRICS_PORT: '0',
    // a demo shows an admission in the inventory within a second, not the production two
    PORTCULLIS_EVENT_FLUSH_INTERVAL_MS: '500',
    LOG_LEVEL: 'info',
  };
  const log = fs.openSync(path.join(f.dir, 'agent.log'), 'a', 0o600);
  // detached: its own process group, so the terminal's Ctrl-C reaches the demo only, which stops each agent in order
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, repoPath('dist', 'apps', 'agent', 'src', 'main.js')], {
    env,
    stdio: ['ignore', 'pipe', log],
    detached: true,
  });
  fs.closeSync(log);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const logStream = fs.createWriteStream(path.join(f.dir, 'agent.log'), { flags: 'a' });
  let buffered = '';
  const ports = await new Promise<{ webhookPort: number; metricsPort: number }>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      logStream.write(chunk);
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const line of parts) {
        if (!line.includes('portcullis agent started')) continue;
        try {
          const entry = JSON.parse(line) as { webhookPort: number; metricsPort: number };
          resolve({ webhookPort: entry.webhookPort, metricsPort: entry.metricsPort });
        } catch {
          // not the start line after all
        }
      }
    });
    void exited.then(({ code, signal }) =>
      reject(
        new Error(
          `the agent of ${f.clusterName} exited before it started (code ${code}, signal ${signal}); see ${path.join(f.dir, 'agent.log')}`,
        ),
      ),
    );
  });
  return {
    clusterId: f.clusterId,
    clusterName: f.clusterName,
    dir: f.dir,
    caFile,
    bundlePath: env['PORTCULLIS_BUNDLE_PATH']!,
    webhookUrl: `https://127.0.0.1:${ports.webhookPort}/validate`,
    metricsUrl: `http://127.0.0.1:${ports.metricsPort}`,
    child,
    exited,
  };
}

export interface AgentState {
  readonly bundleRevision: number | null;
  readonly spoolDepth: number;
}

export async function agentState(a: DemoAgent): Promise<AgentState | undefined> {
  try {
    const res = await fetch(`${a.metricsUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
    return (await res.json()) as AgentState;
  } catch {
    return undefined;
  }
}

/** Polls the agent's /readyz until `ok` holds; fails naming the cluster and what was awaited. */
export async function waitForAgent(
  a: DemoAgent,
  what: string,
  ok: (s: AgentState) => boolean,
  timeoutMs = 90_000,
): Promise<AgentState> {
  const deadline = Date.now() + timeoutMs;
  let last: AgentState | undefined;
  while (Date.now() < deadline) {
    if (a.child.exitCode !== null || a.child.signalCode !== null)
      throw new Error(`the agent of ${a.clusterName} has exited; see ${path.join(a.dir, 'agent.log')}`);
    last = await agentState(a);
    if (last && ok(last)) return last;
    await sleep(200);
  }
  throw new Error(
    `the agent of ${a.clusterName} did not ${what} within ${timeoutMs / 1000} s (last state ${JSON.stringify(last ?? null)}); see ${path.join(a.dir, 'agent.log')}`,
  );
}

/** SIGTERM, as the kubelet stops a pod: the agent flushes what it can and exits. */
export async function stopAgents(agents: readonly DemoAgent[]): Promise<void> {
  for (const a of agents) if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGTERM');
  await Promise.all(agents.map((a) => a.exited));
}
