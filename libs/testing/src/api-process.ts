/**
 * Another API replica in a process of its own, started from the compiled entry point
 * exactly as `npm start` does, against the same database, Redis prefix and issuer as a
 * harness. For tests about what crosses process boundaries (pub/sub wake-ups).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { repoPath } from '@portcullis/config';
import type { ApiHarness } from './api-harness';

export interface ApiProcess {
  readonly url: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startApiProcess(like: ApiHarness, env: Record<string, string> = {}): Promise<ApiProcess> {
  const port = await freePort();
  const stderr: string[] = [];
  const child = spawn(process.execPath, [repoPath('dist', 'apps', 'api', 'src', 'main.js')], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      PORT: String(port),
      DATABASE_URL: like.config.databaseUrl,
      REDIS_URL: like.config.redisUrl,
      REDIS_PREFIX: like.config.redisPrefix,
      LOG_LEVEL: 'error',
      DEV_ISSUER_STATE_DIR: like.config.devIssuer!.stateDir,
      DEV_ISSUER_PORT: String(like.config.devIssuer!.port),
      AUTH_METADATA_URL: like.config.auth.metadataUrl,
      AUTH_ISSUER_TEMPLATE: like.config.auth.issuerTemplate,
      BUNDLE_SIGNING_KEYS_DIR: like.config.bundles.signingKeysDir,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  // ready when /readyz says PostgreSQL and Redis answer
  for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 100))) {
    if (child.exitCode !== null) throw new Error(`the API process exited with ${child.exitCode}: ${stderr.join('')}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the API process did not become ready: ${stderr.join('')}`);
    }
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { url, process: child, stop };
  }
}
