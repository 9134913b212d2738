import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ApiClient, EnforceableBundle, ScanArtifactSource } from '@portcullis/admission';
import type { RunningWorkload } from '@portcullis/contracts';
import type { Matcher } from '@portcullis/policy-engine';
import { Backoff, sleep } from '../backoff';
import type { BundleStore } from '../bundle/bundle-store';
import type { AgentConfig } from '../config';
import { BackgroundMetrics } from './background-metrics';
import { ClusterState, type Workload } from './cluster-state';
import { WorkloadEvaluator, snapshotOf, type Evaluation } from './evaluator';
import { kindEndpoints } from './kinds';
import { Reflector } from './reflector';
import { WorkloadReporter, reportItem, type ReportItem } from './reporter';

/** Workloads evaluated between two yields to the event loop: the webhook never waits behind a round. */
const CHUNK = 25;
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The background audit (issue #25): what already runs in the cluster, evaluated with the
 * enforced bundle and reported to the API. Lists and watches the workload kinds (Reflector
 * per kind into one compact ClusterState), collapses pods into their top-most controller,
 * evaluates each workload once per change or revision, and reports: a FULL sync at start and
 * after a relist, DELTAs of what changed (batched over `batchMs`), after every new bundle
 * revision, and on the interval (an empty DELTA then is a heartbeat).
 */
export class BackgroundAudit {
  readonly state = new ClusterState();
  private readonly reflectors: Reflector[];
  private readonly evaluator: WorkloadEvaluator;
  private readonly reporter: WorkloadReporter;
  private readonly metrics: BackgroundMetrics;
  private readonly evaluations = new Map<string, Evaluation>();
  private readonly stop = new AbortController();
  private running: Promise<void> | null = null;
  private interval: NodeJS.Timeout | null = null;
  private batchTimer: NodeJS.Timeout | null = null;
  private wakeUp: (() => void) | null = null;
  private pending = false;
  private needFull = true;
  private reevaluateAll = false;
  private heartbeat = false;
  private lastReportMs = 0;

  constructor(
    kc: KubeConfig,
    private readonly bundles: BundleStore,
    artifacts: ScanArtifactSource | null,
    api: ApiClient,
    private readonly settings: AgentConfig['background'] & {
      readonly excluded: readonly Matcher[];
      readonly backoff: AgentConfig['backoff'];
      readonly maxBodyBytes: number;
    },
    registry: Registry,
    private readonly log: Logger,
  ) {
    const watch = new Watch(kc);
    this.reflectors = kindEndpoints(kc).map(
      (endpoint) =>
        new Reflector(
          endpoint,
          watch,
          this.state,
          {
            changed: () => this.changed(),
            relisted: () => {
              this.metrics.relists.inc({ kind: endpoint.kind });
              this.needFull = true;
            },
          },
          {
            pageSize: settings.listPageSize,
            backoff: new Backoff(settings.backoff.baseMs, settings.backoff.maxMs),
            log,
          },
        ),
    );
    this.evaluator = new WorkloadEvaluator(artifacts, settings.lookupTimeoutMs);
    this.metrics = new BackgroundMetrics(registry, {
      objects: (kind) => this.state.count(kind),
      workloads: () => this.reporter.size,
      lastReportSeconds: () => this.lastReportMs / 1000,
    });
    this.reporter = new WorkloadReporter(
      api,
      snapshotOf,
      new Backoff(settings.backoff.baseMs, settings.backoff.maxMs),
      log,
      {
        sent: (mode, workloads, removed) => {
          this.lastReportMs = Date.now();
          this.metrics.reports.inc({ mode });
          this.metrics.reportedWorkloads.inc({ mode }, workloads);
          if (removed > 0) this.metrics.removedWorkloads.inc(removed);
        },
        refused: () => this.metrics.refusedWorkloads.inc(),
      },
      settings.maxBodyBytes,
    );
    // a new revision re-evaluates everything; the API learns the revision even when nothing changed
    bundles.onApplied(() => {
      this.reevaluateAll = true;
      this.heartbeat = true;
      this.wake();
    });
  }

  /** The last problem listing, watching or reporting; null when all is well. */
  get lastError(): string | null {
    return this.reporter.lastError ?? this.reflectors.find((r) => r.lastError !== null)?.lastError ?? null;
  }

  start(): void {
    for (const r of this.reflectors) r.start();
    this.interval = setInterval(() => {
      this.reevaluateAll = true;
      this.heartbeat = true;
      this.wake();
    }, this.settings.intervalMs);
    this.interval.unref();
    this.running = this.loop();
  }

  async close(): Promise<void> {
    this.stop.abort();
    if (this.interval) clearInterval(this.interval);
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.wakeUp?.();
    await Promise.all(this.reflectors.map((r) => r.close()));
    await this.running;
  }

  /** A change in the cluster: reported with whatever else changes within the batch window. */
  private changed(): void {
    if (this.batchTimer) return;
    this.batchTimer = setTimeout(() => {
      this.batchTimer = null;
      this.wake();
    }, this.settings.batchMs);
    this.batchTimer.unref();
  }

  private wake(): void {
    this.pending = true;
    this.wakeUp?.();
  }

  private async loop(): Promise<void> {
    const signal = this.stop.signal;
    await Promise.race([
      Promise.all(this.reflectors.map((r) => r.synced)),
      new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true })),
    ]);
    if (signal.aborted) return;
    this.log.info({ workloads: this.state.workloads().length }, 'background audit: cluster listed');
    this.pending = true;
    const backoff = new Backoff(this.settings.backoff.baseMs, this.settings.backoff.maxMs);
    while (!signal.aborted) {
      if (!this.pending) await new Promise<void>((resolve) => (this.wakeUp = resolve));
      this.wakeUp = null;
      if (signal.aborted) break;
      const bundle = this.bundles.current();
      // nothing is reported before a verified bundle is held: "no violations" would be unfounded
      if (!bundle) {
        this.pending = false;
        continue;
      }
      this.pending = false;
      const full = this.needFull;
      const all = this.reevaluateAll;
      const heartbeat = this.heartbeat;
      this.needFull = this.reevaluateAll = this.heartbeat = false;
      try {
        await this.round(bundle, { full, all, heartbeat }, signal);
        backoff.reset();
      } catch (err) {
        if (signal.aborted) break;
        // what was not done is done next round
        this.needFull ||= full;
        this.reevaluateAll ||= all;
        this.heartbeat ||= heartbeat;
        this.pending = true;
        this.log.warn({ problem: (err as Error).message }, 'background audit round failed; retrying');
        await sleep(backoff.next(), signal);
      }
    }
  }

  /** Evaluates what changed (everything when `all`) and reports it. */
  private async round(
    bundle: EnforceableBundle,
    o: { full: boolean; all: boolean; heartbeat: boolean },
    signal: AbortSignal,
  ): Promise<void> {
    const revision = bundle.document.revision;
    const now = new Date();
    const workloads = this.state.workloads().filter((w) => !this.excluded(w.namespace, bundle));
    const stale = workloads.filter((w) => {
      const e = this.evaluations.get(w.key);
      return o.all || e === undefined || e.version !== w.version || e.revision !== revision;
    });
    for (let i = 0; i < stale.length; i += CHUNK) {
      const chunk = stale.slice(i, i + CHUNK);
      const results = await this.evaluator.evaluate(chunk, bundle, now);
      chunk.forEach((w, j) => this.evaluations.set(w.key, results[j]!));
      this.metrics.evaluations.inc(chunk.length);
      await yieldToEventLoop();
      if (signal.aborted) return;
    }
    const present = new Set(workloads.map((w) => w.key));
    for (const key of this.evaluations.keys()) if (!present.has(key)) this.evaluations.delete(key);
    const items: ReportItem[] = workloads.map((w) => reportItem(w, this.reportOf(w, this.evaluations.get(w.key)!)));
    if (o.full) {
      await this.reporter.full(items, revision, signal);
      this.log.info({ workloads: items.length, revision }, 'background audit: full sync reported');
    } else {
      const sent = await this.reporter.delta(items, revision, o.heartbeat, signal);
      if (sent > 0) this.log.debug({ changes: sent, revision }, 'background audit: changes reported');
    }
  }

  private reportOf(w: Workload, e: Evaluation): RunningWorkload {
    return {
      kind: w.kind,
      apiVersion: w.apiVersion,
      namespace: w.namespace,
      name: w.name,
      uid: w.uid,
      pods: w.pods,
      images: e.images,
      snapshotHash: e.snapshotHash,
      violations: e.violations,
    };
  }

  private excluded(namespace: string | null, bundle: EnforceableBundle): boolean {
    if (namespace === null) return false;
    for (const m of this.settings.excluded) if (m(namespace)) return true;
    for (const m of bundle.excluded) if (m(namespace)) return true;
    return false;
  }
}
