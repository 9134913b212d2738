import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { Pool } from 'pg';
import { createPrismaClient, type PrismaClient } from '@portcullis/db';
import { SerialClient } from '../src/serial-client';

const testDb = process.env['TEST_DATABASE_URL'];
const skip = testDb ? false : 'TEST_DATABASE_URL is not set: run through `npm test`';

// pg warns once per process: each spec file runs in its own, so this file sees the first
const warnings: Error[] = [];
process.on('warning', (w) => warnings.push(w));

describe('statements on one connection', { skip }, () => {
  let prisma: PrismaClient;
  before(() => {
    prisma = createPrismaClient({ databaseUrl: testDb!, poolSize: 1 });
  });
  after(async () => {
    await prisma?.$disconnect();
  });

  it("runs the statements of a transaction's query plan one after another, with no pg deprecation warning", async () => {
    // a tenant with its relations included: Prisma's query interpreter loads the relations
    // at once, on the transaction's one connection
    const id = randomUUID();
    await prisma.tenant.create({ data: { id, name: `serial-${id}` } });
    try {
      const found = await prisma.$transaction(async (tx) => {
        const [a, b] = await Promise.all([
          tx.tenant.findUnique({
            where: { id },
            include: {
              roleAssignments: true,
              cloudScopes: true,
              clusters: true,
              policies: true,
              auditLog: true,
              bundles: true,
            },
          }),
          tx.tenant.findUnique({
            where: { id },
            include: { scanUploadTokens: true, scanArtifacts: true, domainEvents: true, snapshots: true },
          }),
        ]);
        return [a, b] as const;
      });
      assert.deepEqual(
        found.map((t) => t?.id),
        [id, id],
      );
      assert.deepEqual(found[0]!.clusters, []);
    } finally {
      await prisma.tenant.delete({ where: { id } });
    }
    await tick();
    assert.deepEqual(
      warnings.map((w) => `${w.name}: ${w.message}`),
      [],
    );
  });

  it('answers callback and promise calls in call order, a failed statement failing alone', async () => {
    const pool = new Pool({ connectionString: testDb!, max: 1, Client: SerialClient });
    try {
      const client = await pool.connect();
      try {
        const done: string[] = [];
        const slow = client.query('SELECT pg_sleep(0.05), 1 AS n').then(() => done.push('slow'));
        const failed = client.query('SELECT 1/0').then(
          () => done.push('failed?'),
          (err: Error) => done.push(`error: ${err.message}`),
        );
        const viaCallback = new Promise<void>((resolve, reject) =>
          (
            client as unknown as {
              query: (text: string, cb: (err: Error | null, res?: { rows: Array<{ n: number }> }) => void) => void;
            }
          ).query('SELECT 3 AS n', (err, res) => {
            if (err) return reject(err);
            done.push(`callback ${res!.rows[0]!.n}`);
            resolve();
          }),
        );
        await Promise.all([slow, failed, viaCallback]);
        assert.deepEqual(done, ['slow', 'error: division by zero', 'callback 3']);
      } finally {
        client.release();
      }
      // pool.query goes through the client's callback form
      assert.equal((await pool.query<{ n: number }>('SELECT 4 AS n')).rows[0]!.n, 4);
    } finally {
      await pool.end();
    }
    await tick();
    assert.deepEqual(
      warnings.map((w) => `${w.name}: ${w.message}`),
      [],
    );
  });
});
