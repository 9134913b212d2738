import { createHash, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Logger } from 'pino';
import { describeAnswer, type ApiClient } from '@portcullis/admission';
import {
  WORKLOAD_REPORT_LIMITS as LIMITS,
  type RunningWorkload,
  type WorkloadRef,
  type WorkloadReportMode,
} from '@portcullis/contracts';
import { Backoff, sleep } from '../backoff';
import type { Workload } from './cluster-state';

const gzipAsync = promisify(gzip);

export const WORKLOAD_REPORTS_PATH = '/agent/v1/workload-reports';

/** One workload as the next report would state it (without its snapshot). */
export interface ReportItem {
  readonly workload: Workload;
  readonly report: RunningWorkload;
  /** Of `report`: a workload whose hash the API last acknowledged is not sent again. */
  readonly hash: string;
}

export function reportItem(workload: Workload, report: RunningWorkload): ReportItem {
  return { workload, report, hash: createHash('sha256').update(JSON.stringify(report)).digest('base64') };
}

interface Acknowledged {
  readonly hash: string;
  readonly snapshotHash: string;
  readonly ref: WorkloadRef;
}

export interface ReporterHooks {
  sent(mode: WorkloadReportMode, workloads: number, removed: number): void;
  refused(): void;
}

/** The API does not hold the FULL sync's earlier pages (409, restartSync): the sync starts again from page 1. */
class RestartSync extends Error {}

/** The API refused one workload of a report as invalid: it is left out until it changes. */
class RefusedWorkload extends Error {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * POST /agent/v1/workload-reports: a FULL sync in pages, or DELTAs of what changed since the
 * API last acknowledged (per workload, the hash of what it was told). Each request is retried
 * under the same reportId until the API answers, so a report is applied once.
 */
export class WorkloadReporter {
  private readonly acknowledged = new Map<string, Acknowledged>();
  /** Workloads whose snapshot the API said it does not hold: sent with the next report. */
  private readonly snapshotWanted = new Set<string>();
  /** Refused as invalid with this content: not sent again until it changes. */
  private readonly refused = new Map<string, string>();
  lastRevision: number | null | undefined = undefined;
  lastError: string | null = null;

  constructor(
    private readonly api: ApiClient,
    private readonly snapshotOf: (w: Workload) => string | undefined,
    private readonly backoff: Backoff,
    private readonly log: Logger,
    private readonly hooks: ReporterHooks,
    private readonly maxBodyBytes: number,
  ) {}

  /** Workloads the API holds now (as far as this agent knows). */
  get size(): number {
    return this.acknowledged.size;
  }

  /** The complete set, in pages; the API replaces the cluster's state when the last page arrives. */
  async full(items: readonly ReportItem[], revision: number | null, signal: AbortSignal): Promise<void> {
    const sendable = items.filter((i) => this.refused.get(i.workload.key) !== i.hash);
    const pages = this.pages(sendable, () => true);
    if (pages.length === 0) pages.push([]);
    let accepted: ReportItem[];
    for (;;) {
      const syncId = randomUUID();
      accepted = [];
      try {
        for (let p = 0; p < pages.length; p++) {
          const sync = { id: syncId, page: p + 1, last: p === pages.length - 1 };
          accepted.push(...(await this.send({ mode: 'FULL', sync, revision }, pages[p]!, [], signal)));
        }
        break;
      } catch (err) {
        if (!(err instanceof RestartSync)) throw err;
        // e.g. another replica's sync superseded this one: start again, not in lockstep with it
        const wait = this.backoff.next();
        this.log.info({ problem: err.message, retryInMs: wait }, 'the API asks for the FULL sync from page 1 again');
        await sleep(wait, signal);
        if (signal.aborted) throw new Error('stopped');
      }
    }
    this.acknowledged.clear();
    for (const i of accepted) this.acknowledge(i);
    this.lastRevision = revision;
    this.hooks.sent('FULL', accepted.length, 0);
  }

  /**
   * New and changed workloads and removals since the last acknowledged report; nothing when
   * nothing changed, unless `heartbeat` (an empty DELTA: the API learns the revision and time).
   */
  async delta(
    items: readonly ReportItem[],
    revision: number | null,
    heartbeat: boolean,
    signal: AbortSignal,
  ): Promise<number> {
    const present = new Set<string>();
    const changed: ReportItem[] = [];
    for (const i of items) {
      present.add(i.workload.key);
      if (this.refused.get(i.workload.key) === i.hash) continue;
      if (this.acknowledged.get(i.workload.key)?.hash !== i.hash || this.snapshotWanted.has(i.workload.key))
        changed.push(i);
    }
    const removed: WorkloadRef[] = [];
    for (const [key, a] of this.acknowledged) if (!present.has(key)) removed.push(a.ref);
    for (const key of this.refused.keys()) if (!present.has(key)) this.refused.delete(key);
    if (changed.length === 0 && removed.length === 0 && !heartbeat && revision === this.lastRevision) return 0;
    const withSnapshot = (i: ReportItem) =>
      this.snapshotWanted.has(i.workload.key) ||
      this.acknowledged.get(i.workload.key)?.snapshotHash !== i.report.snapshotHash;
    const pages = this.pages(changed, withSnapshot);
    const removals: WorkloadRef[][] = [];
    for (let i = 0; i < removed.length; i += LIMITS.removed) removals.push(removed.slice(i, i + LIMITS.removed));
    const requests = Math.max(pages.length, removals.length, 1);
    for (let r = 0; r < requests; r++) {
      const gone = removals[r] ?? [];
      for (const i of await this.send({ mode: 'DELTA', revision }, pages[r] ?? [], gone, signal)) this.acknowledge(i);
      for (const ref of gone) this.acknowledged.delete(`${ref.kind}/${ref.namespace ?? ''}/${ref.name}`);
    }
    this.lastRevision = revision;
    this.hooks.sent('DELTA', changed.length, removed.length);
    return changed.length + removed.length;
  }

  private acknowledge(i: ReportItem): void {
    const w = i.workload;
    this.acknowledged.set(w.key, {
      hash: i.hash,
      snapshotHash: i.report.snapshotHash,
      ref: { kind: w.kind, namespace: w.namespace, name: w.name },
    });
  }

  /** Pages of at most LIMITS.workloads workloads and about maxBodyBytes of JSON, each workload serialised once. */
  private pages(
    items: readonly ReportItem[],
    withSnapshot: (i: ReportItem) => boolean,
  ): Array<Array<ReportItem & { json: string }>> {
    const pages: Array<Array<ReportItem & { json: string }>> = [];
    let page: Array<ReportItem & { json: string }> = [];
    let bytes = 0;
    for (const i of items) {
      const json = this.serialise(i, withSnapshot(i));
      if (page.length > 0 && (page.length >= LIMITS.workloads || bytes + json.length > this.maxBodyBytes)) {
        pages.push(page);
        page = [];
        bytes = 0;
      }
      page.push({ ...i, json });
      bytes += json.length + 1;
    }
    if (page.length > 0) pages.push(page);
    return pages;
  }

  private serialise(i: ReportItem, snapshot: boolean): string {
    const json = JSON.stringify(i.report);
    const s = snapshot ? this.snapshotOf(i.workload) : undefined;
    return s === undefined ? json : `${json.slice(0, -1)},"snapshot":${s}}`;
  }

  /** One request, retried (same reportId) until the API accepts it; a workload it refuses as invalid is left out. */
  private async send(
    head: { mode: WorkloadReportMode; sync?: { id: string; page: number; last: boolean }; revision: number | null },
    initial: Array<ReportItem & { json: string }>,
    removed: readonly WorkloadRef[],
    signal: AbortSignal,
  ): Promise<ReportItem[]> {
    let page = initial;
    let reportId = randomUUID();
    for (;;) {
      if (signal.aborted) throw new Error('stopped');
      try {
        const unknown = await this.post(reportId, head, page, removed, signal);
        for (const index of unknown) {
          const item = page[index];
          if (item) this.snapshotWanted.add(item.workload.key);
        }
        page.forEach((item, index) => {
          if (!unknown.includes(index)) this.snapshotWanted.delete(item.workload.key);
        });
        this.backoff.reset();
        this.lastError = null;
        return page;
      } catch (err) {
        if (err instanceof RestartSync) throw err;
        if (err instanceof RefusedWorkload && page[err.index]) {
          const item = page[err.index]!;
          this.refused.set(item.workload.key, item.hash);
          this.hooks.refused();
          this.log.error(
            { workload: item.workload.key, problem: err.message },
            'the API refused a running workload of a report as invalid; it is left out until it changes',
          );
          page = page.filter((_, i) => i !== err.index);
          reportId = randomUUID();
          continue;
        }
        this.lastError = (err as Error).message;
        const wait = this.backoff.next();
        this.log.warn({ problem: this.lastError, retryInMs: wait }, 'workload report not delivered; retrying');
        await sleep(wait, signal);
      }
    }
  }

  private async post(
    reportId: string,
    head: { mode: WorkloadReportMode; sync?: { id: string; page: number; last: boolean }; revision: number | null },
    page: ReadonlyArray<{ json: string }>,
    removed: readonly WorkloadRef[],
    signal: AbortSignal,
  ): Promise<readonly number[]> {
    const json =
      `{"reportId":"${reportId}","mode":"${head.mode}",` +
      (head.sync ? `"sync":${JSON.stringify(head.sync)},` : '') +
      `"bundleRevision":${head.revision === null ? 'null' : head.revision},` +
      `"observedAt":"${new Date().toISOString()}",` +
      `"workloads":[${page.map((p) => p.json).join(',')}],` +
      `"removed":${JSON.stringify(removed)}}`;
    const body = await gzipAsync(Buffer.from(json));
    const res = await this.api.request({
      method: 'POST',
      path: WORKLOAD_REPORTS_PATH,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body,
      timeoutMs: 60_000,
      signal,
    });
    if (res.status === 200 || res.status === 201 || res.status === 202) {
      try {
        const answer = JSON.parse(res.body.toString('utf8')) as { unknownSnapshots?: unknown };
        return Array.isArray(answer.unknownSnapshots)
          ? answer.unknownSnapshots.filter((n): n is number => typeof n === 'number')
          : [];
      } catch {
        return [];
      }
    }
    const problem = describeAnswer(res);
    if (res.status === 409 && /"restartSync"\s*:\s*true/.test(res.body.toString('utf8', 0, 4096)))
      throw new RestartSync(problem);
    const index = res.status === 400 ? /workloads\[(\d+)\]/.exec(problem) : null;
    if (index) throw new RefusedWorkload(Number(index[1]), problem);
    throw new Error(`POST ${WORKLOAD_REPORTS_PATH}: ${problem}`);
  }
}
