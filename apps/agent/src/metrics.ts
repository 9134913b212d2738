import { DECISION_RESULTS } from '@portcullis/admission';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The agent's Prometheus metrics, in a registry of its own. Every label value comes from a
 * fixed set (typed unions); none is a path, a name or text a caller or a bundle sent.
 */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly admissionSeconds: Histogram;
  readonly decisions: Counter<'result'>;
  readonly bundleRevision: Gauge;
  readonly spoolDepth: Gauge;
  readonly droppedEvents: Gauge;
  readonly uploadedEvents: Counter;
  readonly bundleRejections: Counter<'reason'>; // BundleRejectionReason
  readonly artifactLookups: Counter<'outcome'>;
  readonly snapshots: Counter<'sent'>;

  constructor(sources: { spoolDepth: () => number; dropped: () => number; revision: () => number | null }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'portcullis_agent_' });
    this.admissionSeconds = new Histogram({
      name: 'portcullis_agent_admission_duration_seconds',
      help: 'Time from a review read to its answer written',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    this.decisions = new Counter({
      name: 'portcullis_agent_admission_decisions_total',
      help: 'Admission reviews answered, by result',
      labelNames: ['result'],
      registers: [this.registry],
    });
    for (const r of DECISION_RESULTS) this.decisions.inc({ result: r }, 0);
    this.bundleRevision = new Gauge({
      name: 'portcullis_agent_bundle_revision',
      help: 'Revision of the policy bundle enforced (0: none held)',
      registers: [this.registry],
      collect() {
        this.set(sources.revision() ?? 0);
      },
    });
    this.spoolDepth = new Gauge({
      name: 'portcullis_agent_spool_depth',
      help: 'Admission events waiting in the on-disk spool',
      registers: [this.registry],
      collect() {
        this.set(sources.spoolDepth());
      },
    });
    this.droppedEvents = new Gauge({
      name: 'portcullis_agent_dropped_events',
      help: 'Admission events dropped since start (spool full or refused by the API)',
      registers: [this.registry],
      collect() {
        this.set(sources.dropped());
      },
    });
    this.uploadedEvents = new Counter({
      name: 'portcullis_agent_uploaded_events_total',
      help: 'Admission events the API acknowledged',
      registers: [this.registry],
    });
    this.bundleRejections = new Counter({
      name: 'portcullis_agent_bundle_rejections_total',
      help: 'Bundles refused, by reason',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.snapshots = new Counter({
      name: 'portcullis_agent_event_snapshots_total',
      help: 'Admission events with a snapshot of the evaluated object, by how it was sent: in full, or by the id of a snapshot the API holds',
      labelNames: ['sent'],
      registers: [this.registry],
    });
    for (const sent of ['in_full', 'by_id']) this.snapshots.inc({ sent }, 0);
    this.artifactLookups = new Counter({
      name: 'portcullis_agent_artifact_lookups_total',
      help: 'Scan-artifact resolutions during admissions',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
  }
}
