import { Registry, collectDefaultMetrics, Histogram, Counter, Gauge } from 'prom-client';

/** One registry per process (tests boot several apps in one process, hence not the global one). */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly graphqlOperations: Counter<'operation' | 'outcome'>;
  readonly distributionJobs: Gauge<'state'>;
  readonly unpublishedEvents: Gauge;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'portcullis_api_' });
    this.httpDuration = new Histogram({
      name: 'portcullis_api_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 30],
      registers: [this.registry],
    });
    this.graphqlOperations = new Counter({
      name: 'portcullis_api_graphql_operations_total',
      help: 'GraphQL operations by name and outcome (ok or the error code)',
      labelNames: ['operation', 'outcome'],
      registers: [this.registry],
    });
    this.distributionJobs = new Gauge({
      name: 'portcullis_distribution_jobs',
      help: 'Bundle distribution jobs on the queue by state (failed = retries exhausted; kept for inspection)',
      labelNames: ['state'],
      registers: [this.registry],
    });
    this.unpublishedEvents = new Gauge({
      name: 'portcullis_domain_events_unpublished',
      help: 'Policy changes recorded but not yet on the distribution queue (the worker relay re-publishes them)',
      registers: [this.registry],
    });
  }
}
