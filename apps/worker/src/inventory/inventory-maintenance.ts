import type { PrismaClient } from '@portcullis/db';

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
    private readonly options: MaintenanceOptions = { daysAhead: 7, defaultRetentionDays: 30 },
  ) {}

  async run(now: Date): Promise<MaintenanceResult> {
    const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
    const partitionsCreated: string[] = [];
    for (let d = -1; d <= this.options.daysAhead; d++) {
      const day = isoDay(today + d * DAY_MS);
      const [row] = await this.prisma.$queryRawUnsafe<Array<{ created: boolean }>>('SELECT admission_events_ensure_partition($1::date) AS created', day);
      if (row?.created) partitionsCreated.push(partitionName(day));
    }

    const tenants = await this.prisma.tenant.findMany({ select: { id: true, admissionRetentionDays: true } });
    const maxRetention = tenants.reduce((m, t) => Math.max(m, t.admissionRetentionDays), this.options.defaultRetentionDays);
    const dropBefore = today - maxRetention * DAY_MS;
    const partitionsDropped: string[] = [];
    for (const name of await this.partitions()) {
      const m = PARTITION.exec(name)!;
      const end = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) + DAY_MS;
      if (end > dropBefore) continue;
      await this.prisma.$executeRawUnsafe(`DROP TABLE IF EXISTS "${name}"`);
      partitionsDropped.push(name);
    }

    // fold what is staged first: a staged contribution older than the cutoff would otherwise
    // be folded back into a rollup row retention just deleted
    await foldStagedRollups(this.prisma, true);

    let eventsDeleted = 0;
    let rollupRowsDeleted = 0;
    let snapshotsDeleted = 0;
    for (const t of tenants) {
      const cutoff = new Date(today - t.admissionRetentionDays * DAY_MS);
      // platform work: bypasses row-level security by design, every statement names the tenant
      if (t.admissionRetentionDays < maxRetention) {
        eventsDeleted += await this.prisma.$executeRaw`DELETE FROM admission_events WHERE tenant_id = ${t.id}::uuid AND occurred_at < ${cutoff}`;
      }
      rollupRowsDeleted += await this.prisma.$executeRaw`DELETE FROM admission_rollups_hourly WHERE tenant_id = ${t.id}::uuid AND hour < ${cutoff}`;
      rollupRowsDeleted += await this.dropWorkloadDays(t.id, cutoff);
      rollupRowsDeleted += await this.prisma.$executeRaw`DELETE FROM admission_snapshot_days WHERE tenant_id = ${t.id}::uuid AND day < ${cutoff}`;
      snapshotsDeleted += await this.prisma.$executeRaw`DELETE FROM admission_snapshots WHERE tenant_id = ${t.id}::uuid AND last_seen_day < ${cutoff}`;
    }
    return { partitionsCreated, partitionsDropped, eventsDeleted, rollupRowsDeleted, snapshotsDeleted };
  }

  /**
   * The per-workload month rows hold days before `cutoff` (a UTC midnight): months wholly
   * before it go; the month it falls in loses its days before it (their running totals are
   * taken out of the later days) and goes too when nothing is left.
   */
  private async dropWorkloadDays(tenantId: string, cutoff: Date): Promise<number> {
    const month = new Date(Date.UTC(cutoff.getUTCFullYear(), cutoff.getUTCMonth(), 1));
    const daysBefore = cutoff.getUTCDate() - 1;
    let deleted = await this.prisma.$executeRaw`DELETE FROM admission_workload_months WHERE tenant_id = ${tenantId}::uuid AND month < ${month}`;
    if (daysBefore > 0) {
      await this.prisma.$executeRaw`UPDATE admission_workload_months SET admissions_through = admission_days_drop_through(admissions_through, ${daysBefore}::int)
        WHERE tenant_id = ${tenantId}::uuid AND month = ${month} AND admissions_through[${daysBefore}::int] > 0`;
      deleted += await this.prisma.$executeRaw`DELETE FROM admission_workload_months WHERE tenant_id = ${tenantId}::uuid AND month = ${month} AND admissions_through[31] = 0`;
    }
    return deleted;
  }

  /** The daily partitions that exist, oldest first. */
  async partitions(): Promise<string[]> {
    const rows = await this.prisma.$queryRaw<Array<{ name: string }>>`
      SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'admission_events'::regclass ORDER BY c.relname`;
    return rows.map((r) => r.name).filter((n) => PARTITION.test(n));
  }
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function partitionName(day: string): string {
  return `admission_events_p${day.replace(/-/g, '')}`;
}

/**
 * Folds the rollup contributions ingest staged into the rollups (admission_rollups_flush,
 * one atomic DELETE … RETURNING + upsert per table). wait = false returns -1 at once when
 * another process is flushing. Returns the rollup rows written.
 */
export async function foldStagedRollups(prisma: PrismaClient, wait: boolean): Promise<number> {
  const [row] = await prisma.$queryRawUnsafe<Array<{ folded: number }>>('SELECT admission_rollups_flush(NULL, $1::boolean) AS folded', wait);
  return Number(row?.folded ?? 0);
}
