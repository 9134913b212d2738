import * as fs from 'node:fs';
import { z } from 'zod';
import { fromJwks, JwksError, type PublicKeySet } from '@portcullis/bundle';
import { parseDecimal } from '@portcullis/contracts';

/**
 * Every setting of the agent, read from the environment once at start and validated
 * into a typed object; nothing else reads process.env. A bad setting stops the agent
 * with one line naming it.
 */
export interface AgentConfig {
  readonly apiUrl: URL;
  /** CA bundle (PEM) to trust for the API, beyond the system roots. */
  readonly apiCa?: string;
  readonly clusterId: string;
  /** `pca_<id>.<secret>` from registerCluster; never logged. */
  readonly agentToken: string;
  readonly trustedKeys: PublicKeySet;
  readonly bundlePath: string;
  readonly spool: {
    readonly dir: string;
    readonly maxEvents: number;
    readonly maxBytes: number;
    readonly segmentBytes: number;
  };
  readonly agentNamespace: string;
  /** Namespace globs never evaluated (allowed and counted as excluded). */
  readonly excludedNamespaces: readonly string[];
  /** What to answer before any verified bundle is held. */
  readonly noBundleAction: 'allow' | 'deny';
  readonly tls: { readonly certFile: string; readonly keyFile: string; readonly reloadIntervalMs: number };
  readonly webhook: { readonly host: string; readonly port: number; readonly maxBodyBytes: number };
  /** Deadlines of the webhook and metrics servers: headers, the whole request (408 past it), idle keep-alive. */
  readonly http: {
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly keepAliveTimeoutMs: number;
  };
  /** Plain-HTTP /healthz, /readyz, /metrics for probes and Prometheus. */
  readonly metricsPort: number;
  readonly lookup: { readonly timeoutMs: number; readonly cacheTtlMs: number; readonly notFoundTtlMs: number };
  readonly bundleWaitSeconds: number;
  readonly statusIntervalMs: number;
  readonly events: { readonly batchSize: number; readonly flushIntervalMs: number; readonly maxBatchBytes: number };
  readonly backoff: { readonly baseMs: number; readonly maxMs: number };
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * The Kubernetes API, with the pod's service-account credentials (native enforcement and the
   * background audit use it). Absent outside a pod: KUBERNETES_SERVICE_HOST is not set.
   */
  readonly kubernetes?: {
    readonly host: string;
    readonly port: number;
    /** Prefix of /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}; '' in a pod. */
    readonly serviceAccountRoot: string;
  };
  /** Native enforcement (ValidatingAdmissionPolicy), when the bundle's enforcement mode is `native`. */
  readonly native: {
    /** Full reconcile (drift repair) at least this often. */
    readonly resyncMs: number;
    /** How often kube-apiserver's /metrics is read for native denial counts. */
    readonly metricsMs: number;
    /** Deadline of one Kubernetes API request. */
    readonly requestTimeoutMs: number;
  };
  /** The background audit of what already runs (needs `kubernetes`): list/watch, evaluate, report. */
  readonly background: {
    readonly enabled: boolean;
    /** Re-evaluate everything and report (an empty DELTA is a heartbeat) this often. */
    readonly intervalMs: number;
    /** Changes seen within this window go out in one report. */
    readonly batchMs: number;
    /** Objects per list page. */
    readonly listPageSize: number;
    /** Budget for the scan-artifact lookups of one evaluation round. */
    readonly lookupTimeoutMs: number;
  };
}

export class AgentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentConfigError';
  }
}

// decimal digits only: coercing with Number() would read `0x10` as 16, `1e3` as 1000 and ` ` as 0
const int = (min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === 'string' ? (parseDecimal(v) ?? v) : v),
    z.number({ message: 'must be a whole number in decimal digits' }).int('must be a whole number').min(min).max(max),
  );
const port = int(0, 65535);
const list = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(
    z.array(
      z.string().regex(/^[a-z0-9*?]([a-z0-9*?.-]{0,252})?$/, 'must be namespace names or globs (lower case, * and ?)'),
    ),
  );

const env = z.object({
  PORTCULLIS_API_URL: z.string().refine((v) => {
    try {
      return ['http:', 'https:'].includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, 'must be an http(s) URL, e.g. https://portcullis.example.com'),
  PORTCULLIS_API_CA_FILE: z.string().min(1).optional(),
  PORTCULLIS_CLUSTER_ID: z.string().uuid('must be the cluster id (UUID) registerCluster returned'),
  PORTCULLIS_AGENT_TOKEN: z.string().optional(),
  PORTCULLIS_AGENT_TOKEN_FILE: z.string().min(1).optional(),
  PORTCULLIS_TRUSTED_KEYS: z.string().optional(),
  PORTCULLIS_TRUSTED_KEYS_FILE: z.string().min(1).optional(),
  PORTCULLIS_BUNDLE_PATH: z.string().min(1).default('/var/lib/portcullis/bundle.json'),
  PORTCULLIS_SPOOL_DIR: z.string().min(1).default('/var/lib/portcullis/spool'),
  PORTCULLIS_SPOOL_MAX_EVENTS: int(1, 10_000_000).default(100_000),
  PORTCULLIS_SPOOL_MAX_BYTES: int(64 * 1024, 64 * 1024 ** 3).default(256 * 1024 ** 2),
  PORTCULLIS_SPOOL_SEGMENT_BYTES: int(4096, 1024 ** 3).default(4 * 1024 ** 2),
  PORTCULLIS_AGENT_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a namespace name')
    .default('portcullis-system'),
  PORTCULLIS_EXCLUDED_NAMESPACES: list.optional(),
  PORTCULLIS_NO_BUNDLE_ACTION: z.enum(['allow', 'deny'], { message: 'must be allow or deny' }).default('allow'),
  PORTCULLIS_TLS_CERT_FILE: z.string().min(1, 'is required (PEM certificate of the webhook)'),
  PORTCULLIS_TLS_KEY_FILE: z.string().min(1, 'is required (PEM private key of the webhook)'),
  PORTCULLIS_TLS_RELOAD_SECONDS: int(1, 86_400).default(30),
  PORTCULLIS_WEBHOOK_HOST: z.string().min(1).default('0.0.0.0'),
  PORTCULLIS_WEBHOOK_PORT: port.default(8443),
  PORTCULLIS_WEBHOOK_MAX_BODY_BYTES: int(64 * 1024, 64 * 1024 ** 2).default(8 * 1024 ** 2),
  PORTCULLIS_METRICS_PORT: port.default(9090),
  // the API server sends a review at once (its webhook timeout is at most 30 s); a slower
  // client is cut with 408. Keep-alive outlasts the API server's idle connection reuse.
  PORTCULLIS_HTTP_HEADERS_TIMEOUT_MS: int(100, 120_000).default(10_000),
  PORTCULLIS_HTTP_REQUEST_TIMEOUT_MS: int(100, 300_000).default(15_000),
  PORTCULLIS_HTTP_KEEP_ALIVE_TIMEOUT_MS: int(100, 600_000).default(65_000),
  PORTCULLIS_LOOKUP_TIMEOUT_MS: int(10, 30_000).default(1000),
  PORTCULLIS_ARTIFACT_CACHE_TTL_SECONDS: int(1, 86_400).default(300),
  PORTCULLIS_ARTIFACT_NOT_FOUND_TTL_SECONDS: int(1, 86_400).default(60),
  PORTCULLIS_BUNDLE_WAIT_SECONDS: int(0, 60).default(30),
  PORTCULLIS_STATUS_INTERVAL_SECONDS: int(1, 3600).default(60),
  // ~1 MiB of events from real manifests (PORTCULLIS_EVENT_MAX_BATCH_BYTES): a batch's gzip and
  // TLS work is a burst on the agent's CPU; at 1,000 admissions/s, batches of 1,000 events (five
  // 1 MiB uploads back to back) gave a p99 of 10.2 ms against 3.3 ms with 100 and 5.5 against
  // 2.2 ms with 250 (two agents taking turns, 2026-11-23)
  PORTCULLIS_EVENT_BATCH_SIZE: int(1, 1000).default(200),
  PORTCULLIS_EVENT_FLUSH_INTERVAL_MS: int(10, 3_600_000).default(2000),
  PORTCULLIS_EVENT_MAX_BATCH_BYTES: int(16 * 1024, 64 * 1024 ** 2).default(1024 ** 2),
  PORTCULLIS_BACKOFF_BASE_MS: int(1, 60_000).default(500),
  PORTCULLIS_BACKOFF_MAX_MS: int(1, 3_600_000).default(60_000),
  KUBERNETES_SERVICE_HOST: z.string().min(1).optional(),
  KUBERNETES_SERVICE_PORT: port.optional(),
  // only for an agent run outside a pod (and tests): where the service-account files are mounted
  PORTCULLIS_KUBE_SERVICEACCOUNT_ROOT: z.string().default(''),
  PORTCULLIS_NATIVE_RESYNC_SECONDS: int(1, 86_400).default(300),
  PORTCULLIS_NATIVE_METRICS_SECONDS: int(1, 3600).default(60),
  PORTCULLIS_KUBE_REQUEST_TIMEOUT_SECONDS: int(1, 300).default(10),
  PORTCULLIS_BACKGROUND_AUDIT: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .default('true')
    .transform((v) => v === 'true'),
  PORTCULLIS_BACKGROUND_INTERVAL_SECONDS: int(10, 7 * 86_400).default(3600),
  PORTCULLIS_BACKGROUND_BATCH_MS: int(10, 60_000).default(1000),
  PORTCULLIS_BACKGROUND_LIST_PAGE_SIZE: int(10, 5000).default(500),
  PORTCULLIS_BACKGROUND_LOOKUP_TIMEOUT_MS: int(100, 120_000).default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

type Env = Readonly<Record<string, string | undefined>>;

function readFile(setting: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new AgentConfigError(
      `${setting}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
}

function exactlyOne(values: Env, inline: string, file: string): { setting: string; text: string } {
  const a = values[inline];
  const b = values[file];
  if ((a === undefined || a === '') === (b === undefined || b === ''))
    throw new AgentConfigError(`${inline}: set exactly one of ${inline} and ${file}`);
  return a ? { setting: inline, text: a } : { setting: file, text: readFile(file, b!) };
}

const TOKEN = /^pca_[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/;

export function loadAgentConfig(values: Env): AgentConfig {
  const parsed = env.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? '(environment)');
    const got = issue.code === 'invalid_type' && issue.received === 'undefined' ? 'is required' : issue.message;
    throw new AgentConfigError(`${name}: ${got}`);
  }
  const e = parsed.data;
  const token = exactlyOne(values, 'PORTCULLIS_AGENT_TOKEN', 'PORTCULLIS_AGENT_TOKEN_FILE');
  const agentToken = token.text.trim();
  // the value is a secret: the message never repeats it
  if (!TOKEN.test(agentToken))
    throw new AgentConfigError(
      `${token.setting}: is not an agent credential (pca_<32 hex>.<43 base64url>, as registerCluster returns it)`,
    );
  const keys = exactlyOne(values, 'PORTCULLIS_TRUSTED_KEYS', 'PORTCULLIS_TRUSTED_KEYS_FILE');
  let trustedKeys: PublicKeySet;
  try {
    trustedKeys = fromJwks(JSON.parse(keys.text) as unknown);
  } catch (err) {
    const why = err instanceof JwksError ? err.message : 'is not JSON';
    throw new AgentConfigError(`${keys.setting}: ${why} (expected the JWKS of GET /.well-known/jwks.json)`);
  }
  if (e.PORTCULLIS_BACKOFF_MAX_MS < e.PORTCULLIS_BACKOFF_BASE_MS)
    throw new AgentConfigError('PORTCULLIS_BACKOFF_MAX_MS: is below PORTCULLIS_BACKOFF_BASE_MS');
  if (e.PORTCULLIS_HTTP_HEADERS_TIMEOUT_MS > e.PORTCULLIS_HTTP_REQUEST_TIMEOUT_MS)
    throw new AgentConfigError('PORTCULLIS_HTTP_HEADERS_TIMEOUT_MS: is above PORTCULLIS_HTTP_REQUEST_TIMEOUT_MS');
  if (e.PORTCULLIS_SPOOL_SEGMENT_BYTES > e.PORTCULLIS_SPOOL_MAX_BYTES)
    throw new AgentConfigError('PORTCULLIS_SPOOL_SEGMENT_BYTES: is above PORTCULLIS_SPOOL_MAX_BYTES');
  return {
    apiUrl: new URL(e.PORTCULLIS_API_URL),
    ...(e.PORTCULLIS_API_CA_FILE ? { apiCa: readFile('PORTCULLIS_API_CA_FILE', e.PORTCULLIS_API_CA_FILE) } : {}),
    clusterId: e.PORTCULLIS_CLUSTER_ID.toLowerCase(),
    agentToken,
    trustedKeys,
    bundlePath: e.PORTCULLIS_BUNDLE_PATH,
    spool: {
      dir: e.PORTCULLIS_SPOOL_DIR,
      maxEvents: e.PORTCULLIS_SPOOL_MAX_EVENTS,
      maxBytes: e.PORTCULLIS_SPOOL_MAX_BYTES,
      segmentBytes: e.PORTCULLIS_SPOOL_SEGMENT_BYTES,
    },
    agentNamespace: e.PORTCULLIS_AGENT_NAMESPACE,
    excludedNamespaces: e.PORTCULLIS_EXCLUDED_NAMESPACES ?? [e.PORTCULLIS_AGENT_NAMESPACE, 'kube-system'],
    noBundleAction: e.PORTCULLIS_NO_BUNDLE_ACTION,
    tls: {
      certFile: e.PORTCULLIS_TLS_CERT_FILE,
      keyFile: e.PORTCULLIS_TLS_KEY_FILE,
      reloadIntervalMs: e.PORTCULLIS_TLS_RELOAD_SECONDS * 1000,
    },
    webhook: {
      host: e.PORTCULLIS_WEBHOOK_HOST,
      port: e.PORTCULLIS_WEBHOOK_PORT,
      maxBodyBytes: e.PORTCULLIS_WEBHOOK_MAX_BODY_BYTES,
    },
    http: {
      headersTimeoutMs: e.PORTCULLIS_HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.PORTCULLIS_HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.PORTCULLIS_HTTP_KEEP_ALIVE_TIMEOUT_MS,
    },
    metricsPort: e.PORTCULLIS_METRICS_PORT,
    lookup: {
      timeoutMs: e.PORTCULLIS_LOOKUP_TIMEOUT_MS,
      cacheTtlMs: e.PORTCULLIS_ARTIFACT_CACHE_TTL_SECONDS * 1000,
      notFoundTtlMs: e.PORTCULLIS_ARTIFACT_NOT_FOUND_TTL_SECONDS * 1000,
    },
    bundleWaitSeconds: e.PORTCULLIS_BUNDLE_WAIT_SECONDS,
    statusIntervalMs: e.PORTCULLIS_STATUS_INTERVAL_SECONDS * 1000,
    events: {
      batchSize: e.PORTCULLIS_EVENT_BATCH_SIZE,
      flushIntervalMs: e.PORTCULLIS_EVENT_FLUSH_INTERVAL_MS,
      maxBatchBytes: e.PORTCULLIS_EVENT_MAX_BATCH_BYTES,
    },
    backoff: { baseMs: e.PORTCULLIS_BACKOFF_BASE_MS, maxMs: e.PORTCULLIS_BACKOFF_MAX_MS },
    logLevel: e.LOG_LEVEL,
    native: {
      resyncMs: e.PORTCULLIS_NATIVE_RESYNC_SECONDS * 1000,
      metricsMs: e.PORTCULLIS_NATIVE_METRICS_SECONDS * 1000,
      requestTimeoutMs: e.PORTCULLIS_KUBE_REQUEST_TIMEOUT_SECONDS * 1000,
    },
    background: {
      enabled: e.PORTCULLIS_BACKGROUND_AUDIT,
      intervalMs: e.PORTCULLIS_BACKGROUND_INTERVAL_SECONDS * 1000,
      batchMs: e.PORTCULLIS_BACKGROUND_BATCH_MS,
      listPageSize: e.PORTCULLIS_BACKGROUND_LIST_PAGE_SIZE,
      lookupTimeoutMs: e.PORTCULLIS_BACKGROUND_LOOKUP_TIMEOUT_MS,
    },
    ...(e.KUBERNETES_SERVICE_HOST
      ? {
          kubernetes: {
            host: e.KUBERNETES_SERVICE_HOST,
            port: e.KUBERNETES_SERVICE_PORT ?? 443,
            serviceAccountRoot: e.PORTCULLIS_KUBE_SERVICEACCOUNT_ROOT,
          },
        }
      : {}),
  };
}
