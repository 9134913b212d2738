import {
  decideAdmission,
  malformedResponse,
  parseReview,
  reviewJson,
  type AdmissionContext,
  type AdmissionSettings,
  type ArtifactResolver,
  type DecisionResult,
  type ReviewResponse,
  type ScanArtifactSource,
} from '@portcullis/admission';
import type { Logger } from 'pino';
import type { BundleStore } from '../bundle/bundle-store';
import type { AgentMetrics } from '../metrics';
import type { SnapshotIds } from '../spool/snapshot-ids';
import type { Spool } from '../spool/spool';

/**
 * The webhook's one job: read an AdmissionReview, decide it with the held bundle
 * (decideAdmission, shared with the CLI), answer, and spool the admission event before
 * answering. Never throws: whatever arrives gets a well-formed AdmissionReview back.
 */
export class AdmissionHandler {
  /** Built once: the per-admission path allocates nothing for it. */
  private readonly context: AdmissionContext;

  constructor(
    store: BundleStore,
    resolver: ArtifactResolver | null,
    spool: Spool,
    settings: AdmissionSettings,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
    /** Ids of snapshots the API already holds: sent instead of the snapshot. None: always in full. */
    snapshotIds: SnapshotIds | null = null,
  ) {
    this.context = {
      clusterId: settings.clusterId,
      excluded: settings.excluded,
      noBundleAction: settings.noBundleAction,
      lookupTimeoutMs: settings.lookupTimeoutMs,
      bundles: store,
      artifacts: resolver ? countedLookups(resolver, metrics) : null,
      record: (line) => spool.append(line),
      snapshotId: (json) => {
        const id = snapshotIds?.idOf(json);
        metrics.snapshots.inc({ sent: id !== undefined ? 'by_id' : 'in_full' });
        return id;
      },
    };
  }

  /** The JSON answer to one review body. */
  async handle(body: Buffer): Promise<string> {
    const started = process.hrtime.bigint();
    const parsed = parseReview(body);
    let json: string;
    let result: DecisionResult;
    if (!parsed.ok) {
      json = reviewJson(parsed.apiVersion, malformedResponse(parsed));
      result = 'malformed';
      this.log.warn({ uid: parsed.uid, problem: parsed.message }, 'malformed AdmissionReview refused');
    } else {
      let response: ReviewResponse;
      try {
        ({ response, result } = await decideAdmission(parsed.request, new Date(), this.context));
      } catch (err) {
        // only a bug gets here: answer (allowed, as failurePolicy Ignore would) rather than fail the API server's call
        this.log.error({ err: (err as Error).message, uid: parsed.request.uid }, 'admission review failed');
        response = {
          uid: parsed.request.uid,
          allowed: true,
          warnings: ['portcullis: the agent could not evaluate this request (internal error); it was allowed'],
        };
        result = 'not_evaluated';
      }
      json = reviewJson(parsed.request.apiVersion, response);
    }
    this.metrics.decisions.inc({ result });
    this.metrics.admissionSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    return json;
  }
}

/** The resolver, its answers counted by outcome in the agent's metrics. */
function countedLookups(resolver: ArtifactResolver, metrics: AgentMetrics): ScanArtifactSource {
  return {
    cached(images) {
      const cached = resolver.cached(images);
      if (cached) metrics.artifactLookups.inc({ outcome: 'cached' }, images.length);
      return cached;
    },
    async resolve(images, tenantId, budgetMs) {
      const found = await resolver.resolve(images, tenantId, budgetMs);
      for (const l of found.values()) metrics.artifactLookups.inc({ outcome: l.status });
      return found;
    },
  };
}
