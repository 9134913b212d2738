/**
 * `npm start`: validates config, creates the database if missing, applies the
 * migrations, starts the local dev issuer (development only), then runs the API and
 * the worker as child processes. If either exits, everything stops: a half-running
 * system is worse than a stopped one. Start-up ends with one plain line saying where the
 * API is ready (once its /readyz answers 200: PostgreSQL and Redis reachable).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadKeyring } from '@portcullis/bundle';
import { API_NODE_FLAGS, loadConfigOrExit, repoPath, repoRoot } from '@portcullis/config';
import { ensureDatabase, migrate } from '@portcullis/db';
import { createLogger } from '@portcullis/platform';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger(config.logLevel, 'portcullis-launcher');

  const created = await ensureDatabase(config.databaseUrl);
  const result = await migrate(config.databaseUrl, repoPath('prisma', 'migrations'));
  logger.info({ databaseCreated: created, migrationsApplied: result.applied }, 'database ready');

  // the API publishes and the worker signs with these keys: make sure they exist before either starts
  const keyring = loadKeyring(path.resolve(repoRoot(), config.bundles.signingKeysDir), {
    generateIfEmpty: config.bundles.generateMissingKeys,
  });
  logger.info({ activeKid: keyring.active.kid, published: keyring.all.length }, 'bundle signing keys ready');

  let stopIssuer: (() => Promise<void>) | undefined;
  let issuerUrl: string | undefined;
  if (config.devIssuer) {
    const { startDevIssuer } = await import('@portcullis/dev-issuer');
    const issuer = await startDevIssuer({
      port: config.devIssuer.port,
      stateDir: path.resolve(repoRoot(), config.devIssuer.stateDir),
    });
    stopIssuer = () => issuer.stop();
    issuerUrl = issuer.url;
    logger.info(
      { url: issuer.url },
      'development OpenID issuer started (never in production); mint tokens with `npx portcullis dev-token`',
    );
  }

  const children = new Map<string, ChildProcess>();
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const child of children.values()) child.kill('SIGTERM');
    // a child killed by a signal has signalCode set and exitCode null
    await Promise.all(
      [...children.values()].map(
        (c) =>
          new Promise((resolve) =>
            c.exitCode !== null || c.signalCode !== null ? resolve(null) : c.once('exit', resolve),
          ),
      ),
    );
    await stopIssuer?.();
    process.exit(code);
  };
  for (const [name, entry, flags] of [
    ['api', repoPath('dist', 'apps', 'api', 'src', 'main.js'), API_NODE_FLAGS],
    ['worker', repoPath('dist', 'apps', 'worker', 'src', 'main.js'), []],
  ] as const) {
    const child = spawn(process.execPath, [...flags, entry], { stdio: 'inherit', env: process.env });
    children.set(name, child);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      logger.error({ process: name, code, signal }, `${name} exited; stopping`);
      void stop(code ?? 1);
    });
  }
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));

  if (config.port === 0) return; // a port the system picks: nothing here knows it to ask
  if (await apiReady(config.port, () => stopping)) {
    const api = `http://localhost:${config.port}`;
    process.stdout.write(
      `Portcullis is ready: API at ${api} (GraphQL ${api}/graphql), worker running${issuerUrl ? `, dev issuer at ${issuerUrl}` : ''}. Ctrl-C stops it.\n`,
    );
  } else if (!stopping) {
    logger.warn(
      { port: config.port, waitedSeconds: READY_WAIT_MS / 1000 },
      'the API has not answered /readyz with 200 yet; it keeps starting (is PostgreSQL or Redis down?)',
    );
  }
}

const READY_WAIT_MS = 120_000;
const READY_POLL_MS = 250;

/** Polls the API's readiness probe until it answers 200, the launcher stops, or READY_WAIT_MS pass. */
async function apiReady(port: number, stopping: () => boolean): Promise<boolean> {
  for (let waited = 0; waited < READY_WAIT_MS && !stopping(); waited += READY_POLL_MS) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await sleep(READY_POLL_MS);
  }
  return false;
}

main().catch((err: unknown) => {
  process.stderr.write(`portcullis: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
