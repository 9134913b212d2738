import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { LOGGER, type Logger } from '@portcullis/platform';
import { InventoryStore } from '@portcullis/inventory';

/**
 * How long after a stored batch its rollup contributions are folded at the latest (plus the
 * flush itself). A flush costs about one upsert per distinct rollup key, however many batches
 * it folds, so under load a longer delay is cheaper per event (the ingest bench's PostgreSQL
 * CPU per event, bench/README.md).
 */
export const ROLLUP_FLUSH_DELAY_MS = 1_000;
/** After a failed flush (database away): try again this much later; staged rows wait, nothing is lost. */
const RETRY_MS = 2_000;
/**
 * Staging rows live for a fraction of a second, so the table is mostly dead rows unless
 * vacuumed far more often than autovacuum visits a database (once a minute): after
 * background flushes, at most this often.
 */
const VACUUM_EVERY_MS = 1_000;

/**
 * The staging rows fold in two parts at once, on two connections (each part its own lock and
 * rows; see the migration 20261203006000_admission_rollup_fold_parts): a fold is a server
 * backend's serial work, and reports wait for it.
 */
const FOLD_PARTS = [0, 1] as const;

/**
 * Keeps the rollups current: the ingest statement appends each batch's contributions to
 * admission_rollup_staging, and this folds them into the rollups with
 * admission_rollups_flush() (per part, one atomic DELETE … RETURNING + upserts; see its
 * migrations), both parts at once.
 *
 * - After every stored batch, `schedule()` arranges one flush ROLLUP_FLUSH_DELAY_MS later;
 *   batches stored meanwhile ride along, so under load one flush folds many batches
 *   (one upsert per distinct key instead of one per batch). A batch stored while a flush
 *   runs gets another flush after it. If another process is flushing (the lock is busy),
 *   this one tries again after the delay.
 * - `flushTenant()` folds what a tenant has staged, waiting for a running flush: reports
 *   call it before reading, so they include every batch acknowledged before the query.
 * - The worker flushes every second as well (apps/worker inventory), which covers an API
 *   process that stopped between storing a batch and folding it.
 */
@Injectable()
export class RollupFlusher implements BeforeApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private vacuumedAt = 0;

  constructor(
    private readonly store: InventoryStore,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** A batch was stored: fold it within ROLLUP_FLUSH_DELAY_MS (plus the flush). */
  schedule(delayMs = ROLLUP_FLUSH_DELAY_MS): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.background().finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.schedule();
        }
      });
    }, delayMs);
  }

  /** Folds everything the tenant has staged (waiting for a flush in progress); resolves once the rollups include it. */
  async flushTenant(tenantId: string): Promise<number> {
    return this.flush(tenantId, true);
  }

  /** Folds everything staged, for every tenant (waiting for a flush in progress). */
  async flushAll(): Promise<number> {
    return this.flush(null, true);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    // leave nothing staged by this process; if this fails the worker's flush folds it
    await this.flush(null, true).catch((err: unknown) =>
      this.logger.warn({ err }, 'rollup flush at shutdown failed; the worker folds what is staged'),
    );
  }

  private async background(): Promise<void> {
    try {
      const folded = await this.flush(null, false);
      if (folded < 0)
        this.again = true; // another process is flushing: what it misses, the next one folds
      else if (folded > 0 && Date.now() - this.vacuumedAt >= VACUUM_EVERY_MS) {
        this.vacuumedAt = Date.now();
        await this.store.vacuumStaging();
      }
    } catch (err) {
      this.logger.error({ err }, 'rollup flush failed; staged contributions are kept and folded by a later flush');
      setTimeout(() => this.schedule(0), RETRY_MS).unref();
    }
  }

  /** Rows folded, or -1 when a part's lock was busy (wait = false): what that part missed, a later flush folds. */
  private async flush(tenantId: string | null, wait: boolean): Promise<number> {
    const parts = await Promise.all(FOLD_PARTS.map((part) => this.store.foldStagedPart(tenantId, wait, part)));
    return parts.some((n) => n < 0) ? -1 : parts.reduce((a, b) => a + b, 0);
  }
}
