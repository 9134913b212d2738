import * as fs from 'node:fs';
import type { Logger } from 'pino';
import { ApiClient, ArtifactResolver } from '@portcullis/admission';
import { compileGlob } from '@portcullis/policy-engine';
import { compileVap } from '@portcullis/vap';
import { AdmissionHandler } from './admission/admission-handler';
import { Backoff } from './backoff';
import { BackgroundAudit } from './background/background-audit';
import { BundleStore } from './bundle/bundle-store';
import { BundleSync } from './bundle/bundle-sync';
import type { AgentConfig } from './config';
import { AgentMetrics } from './metrics';
import { AgentServers } from './servers';
import { SERVICE_ACCOUNT_DIR, inClusterKubeConfig } from './kube/kube-config';
import type { CompileVap } from './native/compiled';
import { NativeKube } from './native/native-kube';
import { NativeReconciler } from './native/native-reconciler';
import { Spool } from './spool/spool';
import { SnapshotIds } from './spool/snapshot-ids';
import { EventUploader } from './spool/uploader';
import { StatusReporter } from './status-reporter';
import { AGENT_VERSION } from './version';

/**
 * The Kubernetes API as the pod's service account, or null when the agent has none: outside a
 * pod, or a chart installed without native enforcement (no token mounted).
 */
function nativeKube(config: AgentConfig): NativeKube | null {
  if (!config.kubernetes) return null;
  if (!fs.existsSync(`${config.kubernetes.serviceAccountRoot}${SERVICE_ACCOUNT_DIR}/token`)) return null;
  return new NativeKube(inClusterKubeConfig(config.kubernetes), config.native.requestTimeoutMs);
}

export interface RunningAgent {
  readonly webhookPort: number;
  readonly metricsPort: number;
  stop(): Promise<void>;
}

/**
 * Wires the agent: bundle store (persisted bundle loaded first, so enforcement starts
 * before the API answers), webhook, spool and uploader, bundle long-poll, status.
 */
export class Agent {
  readonly store: BundleStore;
  readonly spool: Spool;
  readonly metrics: AgentMetrics;
  private readonly api: ApiClient;
  private readonly sync: BundleSync;
  private readonly uploader: EventUploader;
  private readonly status: StatusReporter;
  private readonly servers: AgentServers;
  readonly native: NativeReconciler;
  /** Null when disabled (PORTCULLIS_BACKGROUND_AUDIT=false) or outside a pod (no Kubernetes API). */
  readonly background: BackgroundAudit | null;
  private started = false;

  constructor(
    private readonly config: AgentConfig,
    private readonly log: Logger,
    /** The ValidatingAdmissionPolicy compiler (a test may pass a failing one). */
    compile: CompileVap = compileVap,
  ) {
    this.api = new ApiClient(
      config.apiUrl,
      config.agentToken,
      config.clusterId,
      `portcullis-agent/${AGENT_VERSION}`,
      config.apiCa,
    );
    this.store = new BundleStore(config.bundlePath, config.trustedKeys, config.clusterId);
    this.spool = new Spool(config.spool);
    this.metrics = new AgentMetrics({
      spoolDepth: () => this.spool.depth,
      dropped: () => this.spool.dropped,
      revision: () => this.store.revision,
    });
    const resolver = new ArtifactResolver(this.api, config.trustedKeys, {
      cacheTtlMs: config.lookup.cacheTtlMs,
      notFoundTtlMs: config.lookup.notFoundTtlMs,
      failureTtlMs: Math.min(5000, config.lookup.notFoundTtlMs),
      requestTimeoutMs: Math.max(config.lookup.timeoutMs, 5000),
    });
    const snapshotIds = new SnapshotIds();
    const handler = new AdmissionHandler(
      this.store,
      resolver,
      this.spool,
      {
        clusterId: config.clusterId,
        excluded: config.excludedNamespaces.map((p) => compileGlob(p)),
        noBundleAction: config.noBundleAction,
        lookupTimeoutMs: config.lookup.timeoutMs,
      },
      this.metrics,
      log.child({ part: 'webhook' }),
      snapshotIds,
    );
    const uploaderSettings = {
      batchSize: config.events.batchSize,
      flushIntervalMs: config.events.flushIntervalMs,
      maxBatchBytes: config.events.maxBatchBytes,
    };
    this.uploader = new EventUploader(
      this.spool,
      this.api,
      uploaderSettings,
      new Backoff(config.backoff.baseMs, config.backoff.maxMs),
      log.child({ part: 'events' }),
      {
        onUploaded: (n) => this.metrics.uploadedEvents.inc(n),
        snapshotIds,
      },
    );
    this.status = new StatusReporter(
      this.api,
      config.statusIntervalMs,
      () => ({
        agentVersion: AGENT_VERSION,
        appliedRevision: this.store.current()?.document.revision ?? null,
        lastError:
          this.sync.lastError ?? this.uploader.lastError ?? this.native.lastError ?? this.background?.lastError ?? null,
        spoolDepth: this.spool.depth,
        droppedEvents: this.spool.dropped,
        ...this.nativeStatus(),
      }),
      log.child({ part: 'status' }),
    );
    this.sync = new BundleSync(
      this.api,
      this.store,
      config.bundleWaitSeconds,
      new Backoff(config.backoff.baseMs, config.backoff.maxMs),
      this.metrics,
      log.child({ part: 'bundle' }),
      () => this.status.report(),
    );
    this.native = new NativeReconciler(
      () => this.store.current(),
      nativeKube(config),
      compile,
      {
        excludedNamespaces: config.excludedNamespaces,
        resyncMs: config.native.resyncMs,
        metricsMs: config.native.metricsMs,
        metricsMaxBytes: 256 * 1024 ** 2,
        backoff: config.backoff,
      },
      log.child({ part: 'native' }),
      () => this.status.report(),
    );
    // every new revision may change the compiled objects or the mode
    this.store.onApplied(() => this.native.trigger('bundle'));
    // the bundle may tune the event pipeline; unset settings keep the agent's own
    this.store.onApplied((b) => {
      const s = b.document.agentSettings;
      uploaderSettings.batchSize = s.eventBatchSize ?? config.events.batchSize;
      uploaderSettings.flushIntervalMs = s.eventFlushIntervalMs ?? config.events.flushIntervalMs;
    });
    this.background =
      config.background.enabled && config.kubernetes
        ? new BackgroundAudit(
            inClusterKubeConfig(config.kubernetes),
            this.store,
            // the webhook's scan-artifact cache, shared
            resolver,
            this.api,
            {
              ...config.background,
              excluded: config.excludedNamespaces.map((p) => compileGlob(p)),
              backoff: config.backoff,
              maxBodyBytes: 8 * 1024 ** 2,
            },
            this.metrics.registry,
            log.child({ part: 'background' }),
          )
        : null;
    this.servers = new AgentServers(
      handler,
      this.metrics,
      {
        ready: () => this.started,
        state: () => ({
          bundleRevision: this.store.current()?.document.revision ?? null,
          spoolDepth: this.spool.depth,
          droppedEvents: this.spool.dropped,
        }),
      },
      {
        tls: config.tls,
        host: config.webhook.host,
        port: config.webhook.port,
        metricsPort: config.metricsPort,
        maxBodyBytes: config.webhook.maxBodyBytes,
        http: config.http,
      },
      log.child({ part: 'http' }),
    );
  }

  async start(): Promise<RunningAgent> {
    const loaded = this.store.loadPersisted();
    if (loaded.outcome === 'applied')
      this.log.info(
        { revision: loaded.revision, path: this.config.bundlePath },
        'persisted policy bundle loaded; enforcing it',
      );
    else if (loaded.outcome === 'rejected')
      this.log.error({ reason: loaded.reason, problem: loaded.message }, 'persisted policy bundle not enforced');
    else this.log.info({ path: this.config.bundlePath }, 'no persisted policy bundle');
    const recovered = this.spool.open();
    if (recovered.recoveredEvents > 0 || recovered.truncatedBytes > 0)
      this.log.info(recovered, 'admission events from a previous run are waiting for upload');
    const ports = await this.servers.listen();
    this.uploader.start();
    this.sync.start();
    this.status.start();
    this.native.start();
    this.background?.start();
    this.started = true;
    this.log.info(
      {
        ...ports,
        excludedNamespaces: this.config.excludedNamespaces,
        noBundleAction: this.config.noBundleAction,
        bundleRevision: this.store.revision,
        backgroundAudit: this.background
          ? 'on'
          : this.config.background.enabled
            ? 'off (no Kubernetes API: KUBERNETES_SERVICE_HOST is not set)'
            : 'off (PORTCULLIS_BACKGROUND_AUDIT=false)',
      },
      'portcullis agent started',
    );
    return { ...ports, stop: () => this.stop() };
  }

  private nativeStatus(): { native?: NonNullable<ReturnType<NativeReconciler['snapshot']>> } {
    const native = this.native.snapshot();
    return native ? { native } : {};
  }

  async stop(): Promise<void> {
    this.started = false;
    await this.servers.close();
    await Promise.all([this.sync.close(), this.uploader.close(), this.native.close(), this.background?.close()]);
    await this.status.close();
    await this.spool.close();
    this.api.close();
  }
}
