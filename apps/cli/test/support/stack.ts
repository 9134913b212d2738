import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoPath } from '@portcullis/config';

/** A port free on 127.0.0.1 right now (the system's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface Stack {
  /** What a user's shell would have to reach this stack: PORT, DEV_ISSUER_*, DATABASE_URL, PORTCULLIS_API_URL, PORTCULLIS_DEMO_DIR. */
  readonly env: Record<string, string>;
  readonly apiUrl: string;
  readonly dir: string;
  stop(): Promise<void>;
}

/**
 * What `npm start` runs (dist/apps/launcher/src/main.js: migrations, dev issuer, API and
 * worker), on the test database, with ports, a Redis prefix, issuer state, signing keys and
 * a demo directory of its own; resolves on the launcher's "Portcullis is ready" line.
 */
export async function startStack(): Promise<Stack> {
  const databaseUrl = process.env['TEST_DATABASE_URL'];
  if (!databaseUrl) throw new Error('TEST_DATABASE_URL is not set: run through `npm test`');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-stack-'));
  const port = await freePort();
  const issuerPort = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    DEV_ISSUER_PORT: String(issuerPort),
    DEV_ISSUER_STATE_DIR: path.join(dir, 'dev-issuer'),
    DATABASE_URL: databaseUrl,
    PORTCULLIS_API_URL: `http://localhost:${port}`,
    PORTCULLIS_DEMO_DIR: path.join(dir, 'demo'),
  };
  const child: ChildProcess = spawn(process.execPath, [repoPath('dist', 'apps', 'launcher', 'src', 'main.js')], {
    env: {
      ...process.env,
      ...env,
      NODE_ENV: 'development',
      REDIS_PREFIX: `portcullis-stack-${randomBytes(4).toString('hex')}`,
      BUNDLE_SIGNING_KEYS_DIR: path.join(dir, 'signing-keys'),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the stack did not start within 120 s:\n${out.slice(-2000)}`)),
      120_000,
    );
    const onData = (c: Buffer) => {
      out += c.toString('utf8');
      if (out.includes('Portcullis is ready')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the launcher exited before it was ready:\n${out.slice(-2000)}`));
    });
  });
  return {
    env,
    apiUrl: env['PORTCULLIS_API_URL']!,
    dir,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One GraphQL call with a bearer token; the data, or an error naming the API's errors. */
export async function graphql<T>(
  apiUrl: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  const res = await fetch(`${apiUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (body.errors || !body.data) throw new Error(`GraphQL: ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}
