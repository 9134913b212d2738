import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import {
  signScanArtifact,
  toJwks,
  type BundleDocument,
  type BundlePolicy,
  type Jwks,
  type ScanArtifactDocument,
  type SignedEnvelope,
  type SigningKey,
} from '@portcullis/bundle';
import {
  prepareSnapshot,
  validateAdmissionEventBatch,
  validateAgentStatus,
  validateScanArtifactLookupRequest,
  validateWorkloadReport,
  workloadKey,
  type AdmissionEvent,
  type AgentStatus,
  type RunningWorkload,
  type WorkloadReport,
} from '@portcullis/contracts';
import { signedBundle } from './bundles';
import type { TestTls } from './pki';

export interface ArtifactAnswer {
  readonly resolvedBy: 'DIGEST' | 'TAG';
  readonly document: ScanArtifactDocument;
  /** Signs with this key instead (an untrusted one, to test refusal). */
  readonly signWith?: SigningKey;
}

/**
 * A small, real HTTPS implementation of the agent endpoints of the API, checking every
 * body against libs/contracts exactly as the API does: bundles (ETag, long-poll),
 * status, admission-event batches (gzip, deduplicated by event id) and scan-artifact
 * lookups answered with artifacts signed by libs/bundle. Stands in for the API where
 * the real one is not the subject (faults, bench).
 */
export class ControlPlane {
  private server: https.Server | null = null;
  private readonly sockets = new Set<Duplex>();
  private envelope: SignedEnvelope | null = null;
  private revision = 0;
  private waiters: Array<() => void> = [];
  readonly events = new Map<string, AdmissionEvent>();
  /** Every event id received, repeats included: at-least-once delivery shows here. */
  readonly received: string[] = [];
  readonly batches: Array<{ readonly events: number; readonly gzip: boolean }> = [];
  readonly statuses: AgentStatus[] = [];
  readonly refusals: string[] = [];
  readonly artifacts = new Map<string, ArtifactAnswer>();
  lookupRequests = 0;
  lookupDelayMs = 0;
  /**
   * Bench mode: uploads are acknowledged and their bytes counted, nothing decoded or kept.
   * So no snapshot ids are named either, and agents send every snapshot in full: decoding a
   * batch (a few ms per upload) would stall the load generator this runs in, in the agents'
   * windows only.
   */
  countEventsOnly = false;
  /** Snapshot ids named in answers, i.e. the snapshots this stand-in "holds". */
  readonly snapshotIds = new Set<string>();
  /** Answer uploads without snapshot ids, as an API older than them did. */
  withoutSnapshotIds = false;
  countedBytes = 0;
  /** Answer admission-event uploads with 503 while true. */
  eventsUnavailable = false;
  /** Runs (and is awaited) before an accepted upload is answered: what happens while an upload is in flight. */
  onEventBatch: (() => Promise<void>) | null = null;
  /** Running workloads as the API holds them after the workload reports received: FULL syncs replace, DELTAs upsert and remove. */
  readonly running = new Map<string, RunningWorkload>();
  /** Every workload report applied (re-sent ones only once). */
  readonly workloadReports: WorkloadReport[] = [];
  private readonly syncs = new Map<string, RunningWorkload[]>();
  /** Answer the next FULL sync pages with 409 restartSync (as the API does when it lost a sync's earlier pages). */
  restartSyncs = 0;
  /** Sync ids answered with restartSync. */
  readonly restartedSyncs: string[] = [];
  private readonly reportIds = new Set<string>();
  port = 0;

  constructor(
    private readonly tls: TestTls,
    private readonly token: string,
    readonly key: SigningKey,
  ) {}

  /** What the API answers about snapshots: the id of each one carried (once, first index), and references to ids it does not hold. */
  private snapshotAnswer(events: readonly AdmissionEvent[]): {
    snapshots: Array<{ index: number; hash: string }>;
    unknownSnapshots: number[];
  } {
    const snapshots: Array<{ index: number; hash: string }> = [];
    const unknownSnapshots: number[] = [];
    const named = new Set<string>();
    events.forEach((e, index) => {
      if (e.snapshot) {
        // the id as the API defines it
        const { hash } = prepareSnapshot(e.snapshot);
        this.snapshotIds.add(hash);
        if (!named.has(hash)) snapshots.push({ index, hash });
        named.add(hash);
      } else if (e.snapshotHash !== undefined && !this.snapshotIds.has(e.snapshotHash)) unknownSnapshots.push(index);
    });
    return { snapshots, unknownSnapshots };
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  get jwks(): Jwks {
    return toJwks([this.key]);
  }

  async start(port = this.port): Promise<this> {
    const server = https.createServer({ cert: this.tls.certPem, key: this.tls.keyPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.route(req, res, Buffer.concat(chunks)));
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  /** The API goes away: listener closed, every connection cut. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    for (const w of this.waiters.splice(0)) w();
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Signs and serves a new revision; long-polling agents are woken. */
  publish(policies: readonly BundlePolicy[], overrides: Partial<BundleDocument> = {}): SignedEnvelope {
    return this.serve(signedBundle(this.key, overrides.revision ?? this.revision + 1, policies, overrides));
  }

  /** Serves an envelope as is (forged, expired, another cluster's...). */
  serve(envelope: SignedEnvelope): SignedEnvelope {
    // the ETag follows the revision inside, as the API's does
    this.revision = (
      JSON.parse(Buffer.from(envelope.payload, 'base64url').toString('utf8')) as { revision: number }
    ).revision;
    this.envelope = envelope;
    for (const w of this.waiters.splice(0)) w();
    return envelope;
  }

  addArtifact(image: string, answer: ArtifactAnswer): void {
    this.artifacts.set(image, answer);
  }

  private route(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, body: Buffer): void {
    const json = (status: number, value?: unknown) => {
      const text = value === undefined ? '' : JSON.stringify(value);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(text);
    };
    if (req.headers.authorization !== `Bearer ${this.token}`)
      return json(401, { code: 'UNAUTHENTICATED', message: 'an agent credential is required' });
    const url = new URL(req.url ?? '/', 'https://x');
    if (req.method === 'GET' && url.pathname === '/agent/v1/bundle')
      return this.bundle(req, res, Number(url.searchParams.get('waitSeconds') ?? '0'));
    if (req.method === 'POST' && url.pathname === '/agent/v1/status') {
      const v = validateAgentStatus(parse(body));
      if (!v.ok) return json(400, { code: 'BAD_USER_INPUT', message: `${v.errors[0]!.path}: ${v.errors[0]!.message}` });
      this.statuses.push(v.value);
      return json(204);
    }
    if (req.method === 'POST' && url.pathname === '/agent/v1/admission-events') {
      if (this.eventsUnavailable) return json(503, { code: 'UNAVAILABLE', message: 'try later' });
      const gzip = req.headers['content-encoding'] === 'gzip';
      if (this.countEventsOnly) {
        // a bench must not spend its load generator's time decoding what the agent sends
        this.countedBytes += body.length;
        return json(200, {});
      }
      const v = validateAdmissionEventBatch(parse(gzip ? gunzipSync(body) : body));
      if (!v.ok) {
        const message = `${v.errors[0]!.path}: ${v.errors[0]!.message}`;
        this.refusals.push(message);
        return json(400, { code: 'BAD_USER_INPUT', message, index: v.index });
      }
      this.batches.push({ events: v.value.events.length, gzip });
      let duplicates = 0;
      for (const e of v.value.events) {
        this.received.push(e.eventId);
        if (this.events.has(e.eventId)) duplicates++;
        else this.events.set(e.eventId, e);
      }
      const answer = {
        accepted: v.value.events.length - duplicates,
        duplicates,
        ...(this.withoutSnapshotIds ? {} : this.snapshotAnswer(v.value.events)),
      };
      if (this.onEventBatch) void this.onEventBatch().then(() => json(200, answer));
      else json(200, answer);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/agent/v1/workload-reports') {
      const gzip = req.headers['content-encoding'] === 'gzip';
      const v = validateWorkloadReport(parse(gzip ? gunzipSync(body) : body));
      if (!v.ok) {
        const message = `${v.errors[0]!.path}: ${v.errors[0]!.message}`;
        this.refusals.push(message);
        return json(400, { code: 'BAD_USER_INPUT', message });
      }
      if (v.value.mode === 'FULL' && this.restartSyncs > 0) {
        this.restartSyncs--;
        this.restartedSyncs.push(v.value.sync!.id);
        return json(409, {
          code: 'CONFLICT',
          message: `sync.page: the API does not hold the earlier pages of sync ${v.value.sync!.id}; send it again from page 1`,
          field: 'sync.page',
          restartSync: true,
        });
      }
      const answer = this.workloadReport(v.value);
      return 'error' in answer
        ? (this.refusals.push(answer.error), json(400, { code: 'BAD_USER_INPUT', message: answer.error }))
        : json(200, answer);
    }
    if (req.method === 'POST' && url.pathname === '/agent/v1/scan-artifacts/lookup') {
      const v = validateScanArtifactLookupRequest(parse(body));
      if (!v.ok) return json(400, { code: 'BAD_USER_INPUT', message: `${v.errors[0]!.path}: ${v.errors[0]!.message}` });
      this.lookupRequests++;
      const results = v.value.images.map((image) => {
        const a = this.artifacts.get(image);
        if (!a) return { image, status: 'NOT_FOUND' };
        return {
          image,
          status: 'FOUND',
          resolvedBy: a.resolvedBy,
          ...(a.document.repoDigest ? { digest: a.document.repoDigest } : {}),
          artifact: signScanArtifact(a.document, a.signWith ?? this.key),
        };
      });
      setTimeout(() => json(200, { results }), this.lookupDelayMs);
      return;
    }
    json(404, { code: 'NOT_FOUND', message: `${req.method} ${url.pathname}` });
  }

  /** What the API does with a report (staging FULL pages, replacing on the last one), idempotent by reportId. */
  private workloadReport(
    r: WorkloadReport,
  ): { accepted: true; duplicate: boolean; staged: boolean; unknownSnapshots: number[] } | { error: string } {
    if (this.reportIds.has(r.reportId)) return { accepted: true, duplicate: true, staged: false, unknownSnapshots: [] };
    const unknownSnapshots: number[] = [];
    for (const [i, w] of r.workloads.entries()) {
      if (w.snapshot) {
        const { hash } = prepareSnapshot(w.snapshot);
        if (hash !== w.snapshotHash)
          return { error: `workloads[${i}].snapshotHash: is not the id of its snapshot (${hash})` };
        this.snapshotIds.add(hash);
      } else if (!this.snapshotIds.has(w.snapshotHash)) unknownSnapshots.push(i);
    }
    this.reportIds.add(r.reportId);
    this.workloadReports.push(r);
    if (r.mode === 'FULL') {
      const staged = [...(this.syncs.get(r.sync!.id) ?? []), ...r.workloads];
      if (!r.sync!.last) {
        this.syncs.set(r.sync!.id, staged);
        return { accepted: true, duplicate: false, staged: true, unknownSnapshots };
      }
      this.syncs.delete(r.sync!.id);
      this.running.clear();
      for (const w of staged) this.running.set(workloadKey(w), w);
    } else {
      for (const w of r.workloads) this.running.set(workloadKey(w), w);
      for (const ref of r.removed) this.running.delete(workloadKey(ref));
    }
    return { accepted: true, duplicate: false, staged: false, unknownSnapshots };
  }

  private bundle(
    req: import('node:http').IncomingMessage,
    res: import('node:http').ServerResponse,
    waitSeconds: number,
  ): void {
    const answer = () => {
      if (res.destroyed) return;
      if (!this.envelope) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'NOT_FOUND', message: 'no bundle has been compiled for this cluster yet' }));
        return;
      }
      const etag = `"rev-${this.revision}"`;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', etag });
      res.end(JSON.stringify(this.envelope));
    };
    const current = this.envelope !== null && req.headers['if-none-match'] !== `"rev-${this.revision}"`;
    if (current || waitSeconds <= 0) return answer();
    const timer = setTimeout(() => {
      this.waiters = this.waiters.filter((w) => w !== wake);
      answer();
    }, waitSeconds * 1000);
    const wake = () => {
      clearTimeout(timer);
      answer();
    };
    this.waiters.push(wake);
  }
}

function parse(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
