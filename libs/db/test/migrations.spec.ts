import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { repoPath } from '@portcullis/config';
import {
  createPrismaClient,
  ensureDatabase,
  migrate,
  MigrationError,
  withTenant,
  type PrismaClient,
} from '@portcullis/db';

const testDb = process.env['TEST_DATABASE_URL'];
const skip = testDb ? false : 'TEST_DATABASE_URL is not set: run through `npm test`';

/** A throwaway database next to the test database, for migrator behaviour. */
function scratchUrl(suffix: string): string {
  const u = new URL(testDb!);
  u.pathname = `/${u.pathname.slice(1)}_${suffix}_${process.pid}`;
  return u.toString();
}

async function dropDatabase(url: string): Promise<void> {
  const admin = new URL(url);
  const name = admin.pathname.slice(1);
  admin.pathname = '/postgres';
  const c = new Client({ connectionString: admin.toString() });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await c.end();
}

describe('migrator', { skip }, () => {
  it('creates the database, applies every migration once, and is idempotent', async () => {
    const url = scratchUrl('mig');
    try {
      assert.equal(await ensureDatabase(url), true);
      assert.equal(await ensureDatabase(url), false);
      const first = await migrate(url, repoPath('prisma', 'migrations'));
      assert.ok(first.applied.length >= 1);
      const second = await migrate(url, repoPath('prisma', 'migrations'));
      assert.deepEqual(second.applied, []);
      assert.equal(second.alreadyApplied, first.applied.length);
    } finally {
      await dropDatabase(url);
    }
  });

  it('refuses an applied migration that was edited, and rolls back a failing one', async () => {
    const url = scratchUrl('edit');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-mig-'));
    try {
      await ensureDatabase(url);
      fs.mkdirSync(path.join(dir, '001_a'));
      fs.writeFileSync(path.join(dir, '001_a', 'migration.sql'), 'CREATE TABLE a (id int);');
      await migrate(url, dir);
      fs.writeFileSync(path.join(dir, '001_a', 'migration.sql'), 'CREATE TABLE a (id bigint);');
      await assert.rejects(
        migrate(url, dir),
        (e: unknown) => e instanceof MigrationError && /001_a was edited/.test(e.message),
      );
      fs.writeFileSync(path.join(dir, '001_a', 'migration.sql'), 'CREATE TABLE a (id int);');
      fs.mkdirSync(path.join(dir, '002_bad'));
      fs.writeFileSync(
        path.join(dir, '002_bad', 'migration.sql'),
        'CREATE TABLE b (id int); SELECT * FROM missing_table;',
      );
      await assert.rejects(
        migrate(url, dir),
        (e: unknown) => e instanceof MigrationError && /002_bad failed/.test(e.message),
      );
      const c = new Client({ connectionString: url });
      await c.connect();
      const b = await c.query("SELECT to_regclass('public.b') AS t");
      await c.end();
      assert.equal(b.rows[0].t, null, 'the failed migration left nothing behind');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await dropDatabase(url);
    }
  });
});

describe('row-level security', { skip }, () => {
  let prisma: PrismaClient;
  const a = '0a0a0a0a-0000-4000-8000-00000000000a';
  const b = '0b0b0b0b-0000-4000-8000-00000000000b';
  before(async () => {
    prisma = createPrismaClient({ databaseUrl: testDb! });
    for (const [id, provider, externalId] of [
      [a, 'AWS_ACCOUNT', '111111111111'],
      [b, 'AWS_ACCOUNT', '222222222222'],
    ] as const) {
      await prisma.tenant.upsert({ where: { id }, create: { id, name: id }, update: {} });
      await withTenant(prisma, id, (tx) =>
        tx.cloudScope.create({ data: { tenantId: id, provider, externalId, displayName: id } }),
      );
    }
  });
  after(async () => {
    await prisma.tenant.deleteMany({ where: { id: { in: [a, b] } } });
    await prisma.$disconnect();
  });

  it('a query with no tenant filter sees only the bound tenant', async () => {
    const seen = await withTenant(prisma, a, (tx) => tx.cloudScope.findMany({}));
    assert.ok(seen.length >= 1);
    assert.ok(seen.every((s) => s.tenantId === a));
    const raw = await withTenant(
      prisma,
      a,
      (tx) => tx.$queryRaw<Array<{ tenant_id: string }>>`SELECT tenant_id FROM cloud_scopes`,
    );
    assert.ok(raw.every((r) => r.tenant_id === a));
    assert.ok(!raw.some((r) => r.tenant_id === b));
  });

  it('a write into another tenant is refused', async () => {
    await assert.rejects(
      withTenant(prisma, a, (tx) =>
        tx.cloudScope.create({
          data: { tenantId: b, provider: 'AWS_ACCOUNT', externalId: '333333333333', displayName: 'x' },
        }),
      ),
      /row-level security/,
    );
  });

  it('without a tenant bound, the application role sees nothing', async () => {
    const rows = await prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT set_config('role', 'portcullis_app', true)`;
      return tx.cloudScope.findMany({});
    });
    assert.deepEqual(rows, []);
  });
});
