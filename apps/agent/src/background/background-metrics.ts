import { Counter, Gauge, type Registry } from 'prom-client';
import { WATCHED_KINDS, type WatchedKind } from './kinds';

/** The background audit's metrics, in the agent's registry. Labels come from fixed sets (kinds, modes). */
export class BackgroundMetrics {
  readonly reports: Counter<'mode'>;
  readonly reportedWorkloads: Counter<'mode'>;
  readonly removedWorkloads: Counter;
  readonly relists: Counter<'kind'>;
  readonly refusedWorkloads: Counter;
  readonly evaluations: Counter;

  constructor(
    registry: Registry,
    sources: { objects: (kind: WatchedKind) => number; workloads: () => number; lastReportSeconds: () => number },
  ) {
    new Gauge({
      name: 'portcullis_agent_background_objects',
      help: 'Objects the background audit holds, by kind (pods and controllers are kept compact)',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        for (const kind of WATCHED_KINDS) this.set({ kind }, sources.objects(kind));
      },
    });
    new Gauge({
      name: 'portcullis_agent_background_workloads',
      help: 'Running workloads (top-most controllers, bare pods, Ingresses) the API was last told about',
      registers: [registry],
      collect() {
        this.set(sources.workloads());
      },
    });
    new Gauge({
      name: 'portcullis_agent_background_last_report_timestamp_seconds',
      help: 'When the API last acknowledged a workload report (0: never)',
      registers: [registry],
      collect() {
        this.set(sources.lastReportSeconds());
      },
    });
    this.reports = new Counter({
      name: 'portcullis_agent_background_reports_total',
      help: 'Workload reports the API acknowledged (a FULL sync counts once), by mode',
      labelNames: ['mode'],
      registers: [registry],
    });
    this.reportedWorkloads = new Counter({
      name: 'portcullis_agent_background_reported_workloads_total',
      help: 'Workloads sent in acknowledged reports, by mode',
      labelNames: ['mode'],
      registers: [registry],
    });
    for (const mode of ['FULL', 'DELTA']) {
      this.reports.inc({ mode }, 0);
      this.reportedWorkloads.inc({ mode }, 0);
    }
    this.removedWorkloads = new Counter({
      name: 'portcullis_agent_background_removed_workloads_total',
      help: 'Workloads reported gone in DELTA reports',
      registers: [registry],
    });
    this.relists = new Counter({
      name: 'portcullis_agent_background_relists_total',
      help: 'Lists made again after a watch expired (410), by kind',
      labelNames: ['kind'],
      registers: [registry],
    });
    for (const kind of WATCHED_KINDS) this.relists.inc({ kind }, 0);
    this.refusedWorkloads = new Counter({
      name: 'portcullis_agent_background_refused_workloads_total',
      help: 'Workloads the API refused as invalid (left out until they change)',
      registers: [registry],
    });
    this.evaluations = new Counter({
      name: 'portcullis_agent_background_evaluations_total',
      help: 'Workload evaluations made by the background audit',
      registers: [registry],
    });
  }
}
