/**
 * Scan-artifact retention: what a lookup can still return stays, however old; history
 * (re-scans of the same image, superseded tags) goes once older than its tenant's scan history.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createPrismaClient, type PrismaClient } from '@portcullis/db';
import { TenantOnboarding } from '@portcullis/tenants';
import { ScanArtifactRetention } from '../src/scans/scan-artifact-retention';

const testDb = process.env['TEST_DATABASE_URL'];
const DAY = 86_400_000;
const digest = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

describe(
  'scan artifact retention',
  { skip: testDb ? false : 'TEST_DATABASE_URL is not set: run through `npm test`' },
  () => {
    let prisma: PrismaClient;

    before(() => {
      prisma = createPrismaClient({ databaseUrl: testDb!, poolSize: 2 });
    });
    after(async () => prisma?.$disconnect());

    async function tenant(): Promise<string> {
      const tenantId = randomUUID();
      await new TenantOnboarding(prisma).create({
        tenantId,
        ownerObjectId: randomUUID(),
        name: 'scan retention',
        operator: 'test',
      });
      return tenantId;
    }

    /** The tenant's scan history in days, as the column holds it. */
    const historyDays = async (tenantId: string) =>
      (await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } })).scanHistoryDays;

    /** An artifact as the API stores one; `scanned` and `received` in days before now. */
    async function artifact(
      tenantId: string,
      o: { repository?: string; digest?: string; tags?: string[]; scanned: number; received: number },
    ): Promise<string> {
      const now = Date.now();
      const row = await prisma.scanArtifact.create({
        data: {
          tenantId,
          contentHash: createHash('sha256').update(randomUUID()).digest('hex'),
          repository: o.repository ?? 'registry.example.com/shop/web',
          tags: o.tags ?? [],
          repoDigest: o.digest ?? null,
          tagBound: o.digest === undefined,
          format: 'trivy',
          scannerName: 'trivy',
          scannerVersion: '0.58.1',
          scannedAt: new Date(now - o.scanned * DAY),
          receivedAt: new Date(now - o.received * DAY),
          criticalCount: 0,
          highCount: 0,
          mediumCount: 0,
          lowCount: 0,
          unknownCount: 0,
          findingsCount: 0,
          envelope: {},
          kid: 'test',
        },
      });
      return row.id;
    }

    it('keeps what a lookup can return, however old, and deletes older history', async () => {
      const tenantId = await tenant();
      assert.equal(await historyDays(tenantId), 30, 'a new tenant keeps 30 days of history');
      const d1 = digest('web@1'),
        d2 = digest('web@2'),
        d3 = digest('web@3');
      const old = 30 + 10;
      const ids = {
        // three scans of one digest: only the newest is served; the two older ones are history
        d1First: await artifact(tenantId, { digest: d1, scanned: old + 5, received: old + 5 }),
        d1Second: await artifact(tenantId, { digest: d1, scanned: old, received: old }),
        d1Latest: await artifact(tenantId, { digest: d1, scanned: 1, received: 1 }),
        // a superseded scan received recently: history, but young enough to stay listed
        d2Recent: await artifact(tenantId, { digest: d2, scanned: 5, received: 5 }),
        d2Latest: await artifact(tenantId, { digest: d2, scanned: 2, received: 2 }),
        // tag 1.0 has moved on to d3, but this old scan is still the newest of its own digest: served by digest
        onlyScanOfItsDigest: await artifact(tenantId, {
          digest: digest('web@0'),
          tags: ['1.0'],
          scanned: 200,
          received: 200,
        }),
        tagMovedOn: await artifact(tenantId, { digest: d3, tags: ['1.0'], scanned: 3, received: 3 }),
        // tag-bound: `dev` re-scanned since, `stable` not: the old one still answers for `stable`
        devOld: await artifact(tenantId, { tags: ['dev'], scanned: old, received: old }),
        devAndStable: await artifact(tenantId, { tags: ['dev', 'stable'], scanned: old - 1, received: old - 1 }),
        devLatest: await artifact(tenantId, { tags: ['dev'], scanned: 1, received: 1 }),
        // the same digest in another repository is another image reference: served on its own
        otherRepository: await artifact(tenantId, {
          repository: 'mirror.example.com/shop/web',
          digest: d1,
          scanned: old + 20,
          received: old + 20,
        }),
      };
      // another tenant's newer scan of the same digest supersedes nothing here
      const other = await tenant();
      await artifact(other, { digest: d1, scanned: 0, received: 0 });
      const otherOld = await artifact(other, { digest: d2, scanned: old, received: old });

      const retention = new ScanArtifactRetention(prisma);
      await retention.run(new Date());
      const left = new Set(
        (await prisma.scanArtifact.findMany({ where: { tenantId }, select: { id: true } })).map((r) => r.id),
      );
      const gone = Object.entries(ids)
        .filter(([, id]) => !left.has(id))
        .map(([name]) => name);
      assert.deepEqual(gone.sort(), ['d1First', 'd1Second', 'devOld']);
      assert.ok(
        await prisma.scanArtifact.findUnique({ where: { id: otherOld } }),
        "the other tenant's only scan of d2 is served there",
      );

      assert.equal(await retention.run(new Date()), 0, 'a second run finds nothing to do');
    });

    it("counts each tenant's own history days", async () => {
      const longer = await tenant();
      const shorter = await tenant();
      await prisma.tenant.update({ where: { id: longer }, data: { scanHistoryDays: 365 } });
      await prisma.tenant.update({ where: { id: shorter }, data: { scanHistoryDays: 7 } });
      const d = digest('api@1');
      // per tenant: a superseded scan 100 days old, one 10 days old, and the served newest
      const made = async (tenantId: string) => ({
        hundred: await artifact(tenantId, { digest: d, scanned: 100, received: 100 }),
        ten: await artifact(tenantId, { digest: d, scanned: 10, received: 10 }),
        newest: await artifact(tenantId, { digest: d, scanned: 1, received: 1 }),
      });
      const l = await made(longer);
      const s = await made(shorter);
      await new ScanArtifactRetention(prisma).run(new Date());
      const kept = async (id: string) => (await prisma.scanArtifact.findUnique({ where: { id } })) !== null;
      assert.deepEqual(
        [await kept(l.hundred), await kept(l.ten), await kept(l.newest)],
        [true, true, true],
        '365 days keep both superseded scans',
      );
      assert.deepEqual(
        [await kept(s.hundred), await kept(s.ten), await kept(s.newest)],
        [false, false, true],
        '7 days keep only the served scan',
      );
    });
  },
);
