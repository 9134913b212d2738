/**
 * `npm test`: prepares an isolated database and Redis key prefix, then runs every
 * compiled spec with node's test runner. The test database is dropped and
 * re-created from the committed migrations on every run, so it never touches
 * development data and never depends on a previous run.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { Redis } from 'ioredis';
import { repoPath } from '@portcullis/config';
import { migrate } from '@portcullis/db';

const DEFAULT_TEST_DB = 'postgresql://postgres@127.0.0.1:5432/portcullis_test';

async function recreateDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!/^[A-Za-z0-9_]{1,63}$/.test(name) || !name.includes('test')) {
    throw new Error(`TEST_DATABASE_URL must name a database whose name contains "test" (got "${name}"): the test setup drops and re-creates it`);
  }
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
}

function findSpecs(dir: string, out: string[] = []): string[] {
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) findSpecs(full, out);
    else if (entry.name.endsWith('.spec.js')) out.push(full);
  }
  return out;
}

async function main(): Promise<number> {
  const filters = process.argv.slice(2);
  const databaseUrl = process.env['TEST_DATABASE_URL'] ?? DEFAULT_TEST_DB;
  const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const redisPrefix = `portcullis-test-${randomBytes(4).toString('hex')}`;

  await recreateDatabase(databaseUrl);
  await migrate(databaseUrl, repoPath('prisma', 'migrations'));

  const specs = [...findSpecs(repoPath('dist', 'apps')), ...findSpecs(repoPath('dist', 'libs')), ...findSpecs(repoPath('dist', 'bench'))]
    .filter((f) => filters.length === 0 || filters.some((flt) => f.includes(flt)))
    .sort();
  if (specs.length === 0) {
    process.stderr.write(`no spec files matched ${filters.join(' ')}\n`);
    return 1;
  }

  const env = {
    ...process.env,
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    TEST_DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: redisPrefix,
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'silent',
    DEV_ISSUER_STATE_DIR: process.env['DEV_ISSUER_STATE_DIR'] ?? repoPath('dist', '.test-dev-issuer'),
    BUNDLE_SIGNING_KEYS_DIR: process.env['BUNDLE_SIGNING_KEYS_DIR'] ?? repoPath('dist', '.test-signing-keys'),
  };
  const concurrency = process.env['TEST_CONCURRENCY'] ?? '2';
  // a test that hangs (a request nobody answers) fails after this, naming itself, instead of
  // holding the suite until CI's own limit; the slowest test takes well under a minute
  const testTimeoutMs = process.env['TEST_TIMEOUT_MS'] ?? '180000';
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, `--test-timeout=${testTimeoutMs}`, '--test-reporter=spec', ...specs], {
      stdio: 'inherit',
      env,
    });
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });

  const redis = new Redis(redisUrl, { lazyConnect: true });
  try {
    await redis.connect();
    const keys = await redis.keys(`${redisPrefix}*`);
    if (keys.length) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`test setup failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
