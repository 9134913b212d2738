/**
 * `npm test`: prepares an isolated database and Redis key prefix, then runs every
 * compiled spec with node's test runner. The test database is dropped and
 * re-created from the committed migrations on every run, so it never touches
 * development data and never depends on a previous run.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { Redis } from 'ioredis';
import { repoPath } from '@portcullis/config';
import { migrate } from '@portcullis/db';

const DEFAULT_TEST_DB = 'postgresql://postgres@127.0.0.1:5432/portcullis_test';

async function recreateDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!/^[A-Za-z0-9_]{1,63}$/.test(name) || !name.includes('test')) {
    throw new Error(
      `TEST_DATABASE_URL must name a database whose name contains "test" (got "${name}"): the test setup drops and re-creates it`,
    );
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

/**
 * Suites and tests skipped because ../shared is absent, from a TAP report: every skip
 * of that kind names the missing ../shared path in its reason. A skipped suite counts
 * once, as it is reported (its tests never run, so they are not listed).
 */
function skippedForShared(tap: string): number {
  let n = 0;
  for (const line of tap.split('\n')) if (/^\s*ok \d+ - .* # SKIP .*\/shared\b/.test(line)) n++;
  return n;
}

async function main(): Promise<number> {
  const filters = process.argv.slice(2);
  const databaseUrl = process.env['TEST_DATABASE_URL'] ?? DEFAULT_TEST_DB;
  const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const redisPrefix = `portcullis-test-${randomBytes(4).toString('hex')}`;

  await recreateDatabase(databaseUrl);
  await migrate(databaseUrl, repoPath('prisma', 'migrations'));

  const specs = [
    ...findSpecs(repoPath('dist', 'apps')),
    ...findSpecs(repoPath('dist', 'libs')),
    ...findSpecs(repoPath('dist', 'bench')),
  ]
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
  // node's summary counts skipped tests, not skipped suites (a describe skipped for lack of
  // ../shared counts 0 however many tests it holds): a TAP copy of the run says what each skip was
  const tapDir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-test-'));
  const tapFile = path.join(tapDir, 'run.tap');
  const code = await new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--test',
        `--test-concurrency=${concurrency}`,
        `--test-timeout=${testTimeoutMs}`,
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=tap',
        `--test-reporter-destination=${tapFile}`,
        ...specs,
      ],
      { stdio: 'inherit', env },
    );
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
  try {
    const skipped = skippedForShared(fs.existsSync(tapFile) ? fs.readFileSync(tapFile, 'utf8') : '');
    if (skipped > 0)
      process.stdout.write(
        `${skipped} suite${skipped === 1 ? '' : 's'} skipped for lack of ../shared (not beside this clone)\n`,
      );
  } finally {
    fs.rmSync(tapDir, { recursive: true, force: true });
  }

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
