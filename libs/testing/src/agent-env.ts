import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { AGENT_NODE_FLAGS, repoPath } from '@portcullis/config';
import type { Jwks } from '@portcullis/bundle';
import { issueAgentCredential } from '@portcullis/credentials';
import { CLUSTER } from './bundles';
import type { TestTls } from './pki';

/** A well-formed agent credential (the API's format), for agents that talk to a stand-in. */
export const newAgentToken = (): string => issueAgentCredential().token;

const created = new Set<string>();

/**
 * A fresh directory under the OS temp dir, removed when this process exits (spools of a
 * bench run reach hundreds of MB). PORTCULLIS_KEEP_TEMP=1 keeps them for a post-mortem.
 */
export function tempDir(prefix = 'portcullis-agent-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (created.size === 0 && process.env['PORTCULLIS_KEEP_TEMP'] !== '1') {
    process.once('exit', () => {
      for (const d of created) fs.rmSync(d, { recursive: true, force: true });
    });
  }
  created.add(dir);
  return dir;
}

/**
 * Short waits and intervals, so a test sees uploads, retries and status reports in
 * milliseconds. A bench leaves them out and runs the agent with its own defaults.
 */
const TEST_TIMINGS: Readonly<Record<string, string>> = {
  PORTCULLIS_BUNDLE_WAIT_SECONDS: '5',
  PORTCULLIS_EVENT_FLUSH_INTERVAL_MS: '50',
  PORTCULLIS_BACKOFF_BASE_MS: '20',
  PORTCULLIS_BACKOFF_MAX_MS: '200',
  PORTCULLIS_STATUS_INTERVAL_SECONDS: '1',
};

/**
 * The environment a Helm-deployed agent would get, with files for TLS, CA and keys in `dir`;
 * with TEST_TIMINGS unless `timings` is 'defaults'.
 */
export function agentEnv(o: {
  dir: string;
  apiUrl: string;
  token: string;
  jwks: Jwks;
  tls: TestTls;
  clusterId?: string;
  timings?: 'test' | 'defaults';
  extra?: Record<string, string>;
}): Record<string, string> {
  fs.writeFileSync(path.join(o.dir, 'tls.crt'), o.tls.certPem);
  fs.writeFileSync(path.join(o.dir, 'tls.key'), o.tls.keyPem);
  fs.writeFileSync(path.join(o.dir, 'ca.crt'), o.tls.caPem);
  fs.writeFileSync(path.join(o.dir, 'jwks.json'), JSON.stringify(o.jwks));
  return {
    PORTCULLIS_API_URL: o.apiUrl,
    PORTCULLIS_API_CA_FILE: path.join(o.dir, 'ca.crt'),
    PORTCULLIS_CLUSTER_ID: o.clusterId ?? CLUSTER,
    PORTCULLIS_AGENT_TOKEN: o.token,
    PORTCULLIS_TRUSTED_KEYS_FILE: path.join(o.dir, 'jwks.json'),
    PORTCULLIS_BUNDLE_PATH: path.join(o.dir, 'state', 'bundle.json'),
    PORTCULLIS_SPOOL_DIR: path.join(o.dir, 'state', 'spool'),
    PORTCULLIS_TLS_CERT_FILE: path.join(o.dir, 'tls.crt'),
    PORTCULLIS_TLS_KEY_FILE: path.join(o.dir, 'tls.key'),
    PORTCULLIS_WEBHOOK_HOST: '127.0.0.1',
    PORTCULLIS_WEBHOOK_PORT: '0',
    PORTCULLIS_METRICS_PORT: '0',
    ...(o.timings === 'defaults' ? {} : TEST_TIMINGS),
    LOG_LEVEL: 'info',
    ...o.extra,
  };
}

/** Log lines captured in memory (JSON objects), for tests that wait on what the agent says. */
export function memoryLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n'))
        if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly webhookPort: number;
  readonly metricsPort: number;
  readonly logs: Array<Record<string, unknown>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the compiled agent (dist/apps/agent/src/main.js) as its own process, with the image's V8 flags, and waits for "started". */
export async function spawnAgent(env: Record<string, string>, nodeArgs: readonly string[] = []): Promise<AgentProcess> {
  const child = spawn(
    process.execPath,
    [...AGENT_NODE_FLAGS, ...nodeArgs, repoPath('dist', 'apps', 'agent', 'src', 'main.js')],
    { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  let buffered = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const started = new Promise<{ webhookPort: number; metricsPort: number }>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      buffered += c.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const line of parts) {
        if (!line.trim()) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry['msg'] === 'portcullis agent started')
          resolve({ webhookPort: entry['webhookPort'] as number, metricsPort: entry['metricsPort'] as number });
      }
    });
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    void exited.then(({ code, signal }) =>
      reject(new Error(`the agent exited before it started (code ${code}, signal ${signal}): ${stderr}`)),
    );
  });
  const ports = await started;
  return { child, ...ports, logs, exited };
}

/** Polls until `check` holds; fails naming what was awaited. No wall-clock assertion: only an upper bound for a hung test. */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
