import { Registry, collectDefaultMetrics, Histogram, Counter, Gauge } from 'prom-client';

/** Route label of a request that matched no route (404s, probes of random paths). */
export const UNMATCHED_ROUTE = 'unmatched';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** The request method as a label: the ones an API route can answer, else `other`. */
export const httpMethodLabel = (method: string): string => (METHODS.has(method) ? method : 'other');
/** The status class (`2xx`...`5xx`): a fixed set of label values whatever the handler answers. */
export const httpStatusLabel = (status: number): string =>
  status >= 100 && status <= 599 ? `${Math.floor(status / 100)}xx` : 'other';

/** One registry per process (tests boot several apps in one process, hence not the global one). */
export class ApiMetrics {
  readonly registry = new Registry();
  // every label value below comes from a fixed set (route templates of the code, schema
  // root fields, error codes, status classes): nothing a caller sends becomes a series
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly graphqlOperations: Counter<'operation' | 'outcome'>;
  readonly distributionJobs: Gauge<'state'>;
  readonly unpublishedEvents: Gauge;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'portcullis_api_' });
    this.httpDuration = new Histogram({
      name: 'portcullis_api_http_request_duration_seconds',
      help: 'HTTP request duration by route template (unmatched: no route) and status class',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 30],
      registers: [this.registry],
    });
    this.graphqlOperations = new Counter({
      name: 'portcullis_api_graphql_operations_total',
      help: 'GraphQL operations by root field (other: unknown or several) and outcome (ok or the error code)',
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
