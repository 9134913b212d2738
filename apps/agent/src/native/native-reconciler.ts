import { createHash } from 'node:crypto';
import type { EnforceableBundle } from '@portcullis/admission';
import { NATIVE_LIMITS, withoutControlCharacters } from '@portcullis/contracts';
import type { Logger } from 'pino';
import { Backoff } from '../backoff';
import { POLICY_ID_LABEL, RULE_LABEL, type Compilation, type CompileVap } from './compiled';
import { CHECK_METRIC, nativeChecks, type VapIndex } from './native-checks';
import {
  KubeRequestError,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  VAP_KINDS,
  type NativeKube,
  type VapKind,
} from './native-kube';
import { policyStates, type NativeStatus } from './native-status';

export interface NativeSettings {
  /** Agent-level namespace exclusions, bound as well (the webhook never evaluates them either). */
  readonly excludedNamespaces: readonly string[];
  readonly resyncMs: number;
  readonly metricsMs: number;
  readonly metricsMaxBytes: number;
  readonly backoff: { readonly baseMs: number; readonly maxMs: number };
}

const APPLY_CONCURRENCY = 4;
/** setTimeout's ceiling (~24.8 days); a later expiry is reached through resync passes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Keeps the cluster's ValidatingAdmissionPolicies and bindings equal to the compiled
 * misconfiguration policies of the verified bundle while its enforcement mode is `native`,
 * and removes them when it is not. Passes are serialised and coalesced; they run on a new
 * bundle, at start, when an exemption expires (CEL has no clock), on a resync interval
 * (drift repair) and, with backoff, after the API was unavailable. It only ever writes
 * objects labelled managed-by portcullis-agent, and never throws into the agent.
 */
export class NativeReconciler {
  private running: Promise<void> | null = null;
  private pending = false;
  private closed = false;
  private started = false;
  private readonly backoff: Backoff;
  private retryTimer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private metricsTimer: NodeJS.Timeout | null = null;
  /** Whether the cluster may hold objects of ours that webhook mode must remove. */
  private mayHoldObjects = true;
  private index: VapIndex = new Map();
  /**
   * What this process applied, per object: the content's hash and the resourceVersion the API
   * stored. An object listed with both unchanged is not applied again (a resync of a large bundle
   * costs two lists); any write by someone else changes the resourceVersion and is repaired.
   */
  private readonly written = new Map<string, { hash: string; resourceVersion: string }>();
  private status: NativeStatus | null = null;
  private checks: NativeStatus['checks'] = null;
  private metricsError: string | null = null;
  lastError: string | null = null;
  passes = 0;

  constructor(
    private readonly bundle: () => EnforceableBundle | null,
    private readonly kube: NativeKube | null,
    private readonly compile: CompileVap,
    private readonly settings: NativeSettings,
    private readonly log: Logger,
    private readonly onChange: () => void,
  ) {
    this.backoff = new Backoff(settings.backoff.baseMs, settings.backoff.maxMs);
  }

  start(): void {
    this.started = true;
    this.resyncTimer = setInterval(() => this.trigger('resync'), this.settings.resyncMs);
    this.resyncTimer.unref();
    this.metricsTimer = setInterval(() => void this.readMetrics(), this.settings.metricsMs);
    this.metricsTimer.unref();
    this.trigger('start');
  }

  /** The `native` status, or undefined while the cluster is not in native mode. */
  snapshot(): NativeStatus | undefined {
    if (!this.status) return undefined;
    return { ...this.status, checks: this.checks, metricsError: this.metricsError };
  }

  /** Runs a pass now, or right after the one in flight. */
  trigger(why: string): void {
    // bundles applied before start (the persisted one) are picked up by start's own pass
    if (this.closed || !this.started) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    this.running = this.pass(why)
      .catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'native reconcile pass failed'))
      .finally(() => {
        this.running = null;
        if (this.pending) {
          this.pending = false;
          this.trigger('coalesced');
        }
      });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of [this.retryTimer, this.expiryTimer]) if (t) clearTimeout(t);
    for (const t of [this.resyncTimer, this.metricsTimer]) if (t) clearInterval(t);
    await this.running;
  }

  /** Resolves when no pass is running or queued (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async pass(why: string): Promise<void> {
    const b = this.bundle();
    // no verified bundle (yet, or expired): leave the cluster as it is rather than guess
    if (!b) return;
    const doc = b.document;
    const native = doc.agentSettings.enforcementMode === 'native';
    this.passes++;
    if (!native) return this.removeAll(why);
    const now = new Date();
    const excluded = [
      ...new Set([...this.settings.excludedNamespaces, ...(doc.agentSettings.excludedNamespaces ?? [])]),
    ];
    const policies = doc.policies.filter((p) => p.type === 'MISCONFIGURATION');
    let compilation: Compilation;
    try {
      compilation = this.compile(policies, {
        now,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
        excludedNamespaces: excluded,
      });
    } catch (err) {
      // a compiler bug must not take the webhook down, nor strip the cluster of what it enforces:
      // the objects stay as they are and every policy says why it was not compiled
      const message = `the agent could not compile revision ${doc.revision}: ${(err as Error).message}`;
      this.log.error({ err: (err as Error).message, revision: doc.revision }, 'native: compile failed');
      this.status = {
        reconciledAt: now.toISOString(),
        revision: doc.revision,
        policies: policies.map((p) => ({
          policyId: p.id,
          state: 'NOT_COMPILED',
          reason: withoutControlCharacters(message).slice(0, NATIVE_LIMITS.reason),
          objects: 0,
        })),
      };
      this.lastError = `native: ${message}`;
      this.onChange();
      return;
    }
    this.index = indexOf(compilation);
    if (!this.kube) {
      const failures = new Map<string, string>();
      const reason =
        'the agent has no Kubernetes credentials (no service-account token: install the chart with nativeEnforcement.enabled=true)';
      for (const o of compilation.objects) failures.set(`${String(o['kind'])}/${nameOf(o)}`, reason);
      this.publish(doc.revision, compilation, new Set(), failures);
      this.lastError = `native: ${reason}`;
      return;
    }
    this.mayHoldObjects = true;
    this.scheduleExpiry(compilation.nextExpiry);
    const outcome = await this.converge(compilation);
    // cut short by a shutdown: nothing half-done is reported
    if (this.closed) return;
    this.publish(doc.revision, compilation, outcome.applied, outcome.failures);
    this.log.info(
      {
        why,
        revision: doc.revision,
        applied: outcome.applied.size,
        refused: outcome.failures.size,
        deleted: outcome.deleted,
        ...(outcome.unavailable ? { problem: outcome.unavailable } : {}),
      },
      'native: ValidatingAdmissionPolicies reconciled',
    );
    this.afterPass(outcome.unavailable);
    void this.readMetrics();
  }

  /** Applies every compiled object and deletes our objects that are no longer compiled. */
  private async converge(c: Compilation): Promise<{
    applied: Set<string>;
    failures: Map<string, string>;
    deleted: number;
    unavailable: string | null;
  }> {
    const kube = this.kube!;
    const applied = new Set<string>();
    const failures = new Map<string, string>();
    let existing: Map<VapKind, Map<string, string>>;
    try {
      existing = await this.listOurs();
    } catch (err) {
      const message = (err as Error).message;
      for (const o of c.objects) failures.set(`${String(o['kind'])}/${nameOf(o)}`, message);
      return { applied, failures, deleted: 0, unavailable: message };
    }
    let unavailable: string | null = null;
    // policies before their bindings: a binding never names a policy the API has not seen
    for (const kind of VAP_KINDS) {
      const objs = c.objects.filter((o) => o['kind'] === kind);
      await eachLimited(objs, APPLY_CONCURRENCY, async (o) => {
        // stopping: the rest waits for the next process (its start pass converges)
        if (this.closed) return;
        const name = nameOf(o);
        const key = `${kind}/${name}`;
        const hash = createHash('sha256').update(JSON.stringify(o)).digest('hex');
        const inCluster = existing.get(kind)!.get(name);
        const mine = this.written.get(key);
        if (inCluster !== undefined && mine && mine.hash === hash && mine.resourceVersion === inCluster) {
          applied.add(key);
          return;
        }
        try {
          if (inCluster === undefined) {
            const labels = await kube.labelsOf(kind, name);
            if (labels && labels[MANAGED_BY_LABEL] !== MANAGED_BY) {
              failures.set(
                key,
                `${kind} ${name} already exists and is not managed by portcullis-agent (label ${MANAGED_BY_LABEL}); it was left as it is`,
              );
              return;
            }
          }
          this.written.set(key, { hash, resourceVersion: await kube.apply(o) });
          applied.add(key);
        } catch (err) {
          this.written.delete(key);
          const e = err as Error;
          failures.set(key, e.message);
          if (!(e instanceof KubeRequestError) || e.unavailable) unavailable ??= e.message;
        }
      });
    }
    const wanted = new Set(c.objects.map(nameOf));
    let deleted = 0;
    for (const kind of [...VAP_KINDS].reverse()) {
      for (const name of existing.get(kind)!.keys()) {
        if (wanted.has(name) || this.closed) continue;
        try {
          await kube.delete(kind, name);
          this.written.delete(`${kind}/${name}`);
          deleted++;
        } catch (err) {
          unavailable ??= (err as Error).message;
        }
      }
    }
    return { applied, failures, deleted, unavailable };
  }

  /** Webhook mode: removes every object of ours (once per switch, and at start). */
  private async removeAll(why: string): Promise<void> {
    this.status = null;
    this.checks = null;
    this.metricsError = null;
    this.index = new Map();
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    if (!this.kube || !this.mayHoldObjects) return;
    let problem: string | null = null;
    let deleted = 0;
    try {
      const existing = await this.listOurs();
      for (const kind of [...VAP_KINDS].reverse())
        for (const name of existing.get(kind)!.keys()) {
          await this.kube.delete(kind, name);
          deleted++;
        }
      this.written.clear();
      this.mayHoldObjects = false;
    } catch (err) {
      const e = err as Error;
      if (e instanceof KubeRequestError && (e.status === 403 || e.status === 404)) {
        // no RBAC for them (the chart's native part is off) or no VAP API: nothing of ours can be there
        this.mayHoldObjects = false;
        this.log.info({ problem: e.message }, 'native: webhook mode, ValidatingAdmissionPolicies not readable');
      } else problem = e.message;
    }
    if (deleted > 0) this.log.info({ why, deleted }, 'native: webhook mode, our ValidatingAdmissionPolicies removed');
    this.afterPass(problem);
    this.onChange();
  }

  /** Our objects in the cluster: name -> resourceVersion, per kind. */
  private async listOurs(): Promise<Map<VapKind, Map<string, string>>> {
    const out = new Map<VapKind, Map<string, string>>();
    for (const kind of VAP_KINDS) {
      const items = await this.kube!.listManaged(kind);
      // the label selector already did this; a second look costs nothing and guards the deletes
      out.set(
        kind,
        new Map(items.filter((i) => i.labels[MANAGED_BY_LABEL] === MANAGED_BY).map((i) => [i.name, i.resourceVersion])),
      );
    }
    return out;
  }

  private publish(
    revision: number,
    c: Compilation,
    applied: ReadonlySet<string>,
    failures: ReadonlyMap<string, string>,
  ): void {
    this.status = {
      reconciledAt: new Date().toISOString(),
      revision,
      policies: policyStates(c, applied, failures),
    };
    this.onChange();
  }

  /** Retries with backoff while the API is unavailable; otherwise waits for the next trigger. */
  private afterPass(problem: string | null): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (problem === null) {
      this.backoff.reset();
      this.lastError = null;
      return;
    }
    this.lastError = `native: ${problem}`;
    const wait = this.backoff.next();
    this.log.warn({ problem, retryInMs: wait }, 'native: Kubernetes API unavailable; retrying');
    this.retryTimer = setTimeout(() => this.trigger('retry'), wait);
    this.retryTimer.unref();
  }

  private scheduleExpiry(nextExpiry: string | undefined): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (!nextExpiry) return;
    // a little after the instant, so the compiler sees the exemption as expired
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, Date.parse(nextExpiry) - Date.now() + 250));
    this.expiryTimer = setTimeout(() => this.trigger('exemption-expired'), wait);
    this.expiryTimer.unref();
  }

  private async readMetrics(): Promise<void> {
    if (!this.kube || !this.status || this.closed) return;
    try {
      const text = await this.kube.metricLines(CHECK_METRIC, this.settings.metricsMaxBytes);
      this.checks = nativeChecks(text, this.index);
      this.metricsError = null;
    } catch (err) {
      this.checks = null;
      this.metricsError = withoutControlCharacters((err as Error).message).slice(0, NATIVE_LIMITS.metricsError);
      this.log.debug({ problem: this.metricsError }, 'native: kube-apiserver metrics not read');
    }
  }
}

function nameOf(o: Record<string, unknown>): string {
  return String((o['metadata'] as { name?: unknown } | undefined)?.name ?? '');
}

function indexOf(c: Compilation): VapIndex {
  const byObject = new Map<string, string>();
  for (const p of c.policies) for (const n of p.objectNames) byObject.set(n, p.policyId);
  const index = new Map<string, { policyId: string; rule: string }>();
  for (const o of c.objects) {
    if (o['kind'] !== 'ValidatingAdmissionPolicy') continue;
    const name = nameOf(o);
    const labels = ((o['metadata'] as { labels?: Record<string, string> }).labels ?? {}) as Record<string, string>;
    // the label holds a hash when the id is not a label value; the outcome names the id itself
    const policyId = byObject.get(name) ?? labels[POLICY_ID_LABEL];
    if (policyId) index.set(name, { policyId, rule: (labels[RULE_LABEL] ?? name).slice(0, 128) });
  }
  return index;
}

async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
