import type { PrismaClient } from '@portcullis/db';
import type { InventoryStore } from '@portcullis/inventory';

const DAY_MS = 86_400_000;
const PARTITION = /^admission_events_p(\d{4})(\d{2})(\d{2})$/;

export interface MaintenanceOptions {
  /** Daily partitions created ahead of today, so ingest never waits on DDL. */
  readonly daysAhead: number;
  /** Retention of tenants that never set one (matches the column default). */
  readonly defaultRetentionDays: number;
}

export interface MaintenanceResult {
  readonly partitionsCreated: readonly string[];
  readonly partitionsDropped: readonly string[];
  readonly eventsDeleted: number;
  readonly rollupRowsDeleted: number;
  readonly snapshotsDeleted: number;
}

/**
 * Partitions and retention of the admission inventory. Partitions are daily and shared
 * by every tenant, so retention is two-level: a partition is dropped (cheap, no
 * vacuum) once it is older than the LONGEST retention of any tenant; a tenant with a
 * shorter retention has its older rows deleted from the partitions still kept. Rollups
 * and snapshots no retained event refers to go by each tenant's retention.
 * Idempotent: a second run finds nothing to do.
 */
export class InventoryMaintenance {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly store: InventoryStore,
    private readonly options: MaintenanceOptions = { daysAhead: 7, defaultRetentionDays: 30 },
  ) {}

  async run(now: Date): Promise<MaintenanceResult> {
    const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
    const partitionsCreated: string[] = [];
    for (let d = -1; d <= this.options.daysAhead; d++) {
      const day = isoDay(today + d * DAY_MS);
      if (await this.store.ensurePartition(day)) partitionsCreated.push(partitionName(day));
    }

    const tenants = await this.prisma.tenant.findMany({ select: { id: true, admissionRetentionDays: true } });
    const maxRetention = tenants.reduce(
      (m, t) => Math.max(m, t.admissionRetentionDays),
      this.options.defaultRetentionDays,
    );
    const dropBefore = today - maxRetention * DAY_MS;
    const partitionsDropped: string[] = [];
    for (const name of await this.store.partitions()) {
      const m = PARTITION.exec(name)!;
      const end = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) + DAY_MS;
      if (end > dropBefore) continue;
      await this.store.dropPartition(name);
      partitionsDropped.push(name);
    }

    // fold what is staged first: a staged contribution older than the cutoff would otherwise
    // be folded back into a rollup row retention just deleted
    await this.store.foldStaged(true);

    let eventsDeleted = 0;
    let rollupRowsDeleted = 0;
    let snapshotsDeleted = 0;
    for (const t of tenants) {
      const cutoff = new Date(today - t.admissionRetentionDays * DAY_MS);
      // platform work: bypasses row-level security by design, every statement names the tenant
      if (t.admissionRetentionDays < maxRetention) eventsDeleted += await this.store.deleteEventsBefore(t.id, cutoff);
      rollupRowsDeleted += await this.store.deleteRollupsBefore(t.id, cutoff);
      snapshotsDeleted += await this.store.deleteSnapshotsBefore(t.id, cutoff);
    }
    return { partitionsCreated, partitionsDropped, eventsDeleted, rollupRowsDeleted, snapshotsDeleted };
  }

  /** The daily partitions that exist, oldest first. */
  partitions(): Promise<string[]> {
    return this.store.partitions();
  }
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function partitionName(day: string): string {
  return `admission_events_p${day.replace(/-/g, '')}`;
}
