/**
 * `npm start`: validates config, creates the database if missing, applies the
 * migrations, starts the local dev issuer (development only), then runs the API and
 * the worker as child processes. If either exits, everything stops: a half-running
 * system is worse than a stopped one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { loadKeyring } from '@portcullis/bundle';
import { loadConfigOrExit, repoPath, repoRoot } from '@portcullis/config';
import { ensureDatabase, migrate } from '@portcullis/db';
import { createLogger } from '@portcullis/platform';
import { API_NODE_FLAGS } from '../../api/src/node-flags';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger(config.logLevel, 'portcullis-launcher');

  const created = await ensureDatabase(config.databaseUrl);
  const result = await migrate(config.databaseUrl, repoPath('prisma', 'migrations'));
  logger.info({ databaseCreated: created, migrationsApplied: result.applied }, 'database ready');

  // the API publishes and the worker signs with these keys: make sure they exist before either starts
  const keyring = loadKeyring(path.resolve(repoRoot(), config.bundles.signingKeysDir), { generateIfEmpty: config.bundles.generateMissingKeys });
  logger.info({ activeKid: keyring.active.kid, published: keyring.all.length }, 'bundle signing keys ready');

  let stopIssuer: (() => Promise<void>) | undefined;
  if (config.devIssuer) {
    const { startDevIssuer } = await import('@portcullis/dev-issuer');
    const issuer = await startDevIssuer({ port: config.devIssuer.port, stateDir: path.resolve(repoRoot(), config.devIssuer.stateDir) });
    stopIssuer = () => issuer.stop();
    logger.info({ url: issuer.url }, 'development OpenID issuer started (never in production); mint tokens with `npx portcullis dev-token`');
  }

  const children = new Map<string, ChildProcess>();
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const child of children.values()) child.kill('SIGTERM');
    // a child killed by a signal has signalCode set and exitCode null
    await Promise.all([...children.values()].map((c) => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(null) : c.once('exit', resolve)))));
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
}

main().catch((err: unknown) => {
  process.stderr.write(`portcullis: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
