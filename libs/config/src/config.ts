import { z } from 'zod';
import { parseDecimal } from '@portcullis/contracts';

/**
 * Every setting Portcullis reads from the environment, validated once at start.
 * Nothing else reads process.env: processes call loadConfig() and inject the result.
 * .env.example lists the same settings with the same defaults.
 */
const bool = z
  .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1');

/**
 * A whole number in decimal digits within [min, max]. Not coerced with Number(), which
 * reads `0x50` as 80, `1e3` as 1000 and ` ` as 0.
 */
const whole = (min: number, max: number, message = 'must be a whole number in decimal digits') =>
  z.preprocess(
    (v) => (typeof v === 'string' ? (parseDecimal(v) ?? v) : v),
    z.number({ message }).int(message).min(min).max(max),
  );

const port = whole(0, 65535, 'must be a port number');

const url = (protocols: readonly string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL with scheme ${protocols.map((p) => p.replace(':', '')).join(' or ')}` },
  );

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: port.default(3000),
  DATABASE_URL: url(['postgresql:', 'postgres:']).default('postgresql://postgres@127.0.0.1:5432/portcullis'),
  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]{1,64}$/, 'must be 1-64 letters, digits, ":", "_" or "-"')
    .default('portcullis'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  AUTH_AUDIENCE: z.string().min(1).default('api://portcullis'),
  AUTH_METADATA_URL: url(['https:']).optional(),
  AUTH_ISSUER_TEMPLATE: z.string().includes('{tenantid}', { message: 'must contain {tenantid}' }).optional(),
  AUTH_CLOCK_SKEW_SECONDS: whole(0, 900).default(300),
  DEV_ISSUER_ENABLED: bool.optional(),
  DEV_ISSUER_PORT: port.default(3443),
  DEV_ISSUER_STATE_DIR: z.string().min(1).default('.portcullis/dev-issuer'),
  GRAPHQL_MAX_COMPLEXITY: whole(10, 100000).default(2000),
  GRAPHQL_MAX_DEPTH: whole(2, 50).default(12),
  GRAPHQL_MAX_EXPENSIVE_FIELDS: whole(1, 50).default(3),
  GRAPHQL_MAX_TOKENS: whole(100, 1000000).default(2000),
  DB_POOL_SIZE: whole(4, 200).default(10),
  DB_SQL_POOL_SIZE: whole(4, 200).default(8),
  DB_TENANT_CONCURRENCY: whole(1, 100).default(3),
  DB_TENANT_EXPENSIVE_CONCURRENCY: whole(1, 100).default(1),
  DB_REQUEST_CONCURRENCY: whole(1, 100).default(2),
  DB_TENANT_QUEUE: whole(0, 10000).default(64),
  DB_QUEUE_WAIT_MS: whole(100, 60000).default(10000),
  REQUEST_BODY_LIMIT_BYTES: whole(1024, 64 * 1024 * 1024).default(1024 * 1024),
  BUNDLE_SIGNING_KEYS_DIR: z.string().min(1).default('.portcullis/signing-keys'),
  BUNDLE_TTL_HOURS: whole(1, 24 * 90).default(168),
  BUNDLE_COMPILE_CHUNK_SIZE: whole(1, 5000).default(500),
  WORKER_JOB_LOCK_SECONDS: whole(1, 3600).default(30),
  SCAN_REPORT_MAX_BYTES: whole(1024, 512 * 1024 * 1024).default(32 * 1024 * 1024),
  HTTP_HEADERS_TIMEOUT_MS: whole(100, 120_000).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: whole(100, 3_600_000).default(60_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: whole(100, 600_000).default(5_000),
  HSTS_MAX_AGE_SECONDS: whole(0, 63_072_000).default(31_536_000),
  SECRETS_ENCRYPTION_KEYS: z.string().optional(),
  ALERTS_ALLOW_PRIVATE_DESTINATIONS: bool.default('false'),
  ALERTS_DELIVERY_ATTEMPTS: whole(1, 50).default(8),
  ALERTS_BACKOFF_BASE_MS: whole(10, 3_600_000).default(15_000),
  ALERTS_BACKOFF_MAX_MS: whole(10, 86_400_000).default(600_000),
  ALERTS_CONNECT_TIMEOUT_MS: whole(100, 60_000).default(5_000),
  ALERTS_RESPONSE_TIMEOUT_MS: whole(100, 120_000).default(10_000),
  ALERTS_MAX_RESPONSE_BYTES: whole(0, 16 * 1024 * 1024).default(64 * 1024),
  ALERTS_EXTRA_CA_FILE: z.string().min(1).optional(),
  ALERTS_RATE_LIMIT_PER_MINUTE: whole(1, 6000).default(60),
  ALERTS_SIEM_BATCH_SIZE: whole(1, 5000).default(500),
  ALERTS_SIEM_BATCH_MS: whole(0, 60_000).default(2_000),
  ALERTS_WORKER_CONCURRENCY: whole(1, 1000).default(64),
});

export type Environment = z.infer<typeof envSchema>['NODE_ENV'];

export interface AppConfig {
  readonly env: Environment;
  readonly port: number;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly redisPrefix: string;
  readonly logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  readonly auth: {
    readonly audience: string;
    readonly metadataUrl: string;
    readonly issuerTemplate: string;
    readonly clockSkewSeconds: number;
  };
  /** The local OpenID issuer for development and tests; null in production, always. */
  readonly devIssuer: { readonly port: number; readonly stateDir: string } | null;
  readonly graphql: {
    readonly maxComplexity: number;
    readonly maxDepth: number;
    /** Root fields marked expensive (exports, simulations, reports) one operation may hold, aliases counted. */
    readonly maxExpensiveFields: number;
    /** Lexical tokens a document may hold; the parser stops past it, before validation spends CPU on it. */
    readonly maxTokens: number;
  };
  /**
   * PostgreSQL connections of the API process and how tenants share them. Tenant-bound
   * transactions (TenantDb, SqlPool.inTenant) pass a fair gate per pool: at most
   * `tenantConcurrency` at a time per tenant and `requestConcurrency` per request, the rest
   * wait in a per-tenant queue of `tenantQueue` for at most `queueWaitMs`, then are refused
   * with RATE_LIMITED (HTTP 429). Two connections of each pool stay outside the gate for
   * sign-in, health and agent credential checks.
   */
  readonly database: {
    readonly poolSize: number;
    readonly sqlPoolSize: number;
    readonly tenantConcurrency: number;
    /** Of those, for GraphQL operations holding an expensive field (capped at tenantConcurrency). */
    readonly tenantExpensiveConcurrency: number;
    readonly requestConcurrency: number;
    readonly tenantQueue: number;
    readonly queueWaitMs: number;
  };
  readonly requestBodyLimitBytes: number;
  readonly bundles: {
    /** Ed25519 PEM keys; the newest signs, all are published. Generated on first use outside production. */
    readonly signingKeysDir: string;
    readonly generateMissingKeys: boolean;
    readonly ttlMs: number;
    /** Clusters signed and stored per transaction (and per wake-up message). */
    readonly compileChunkSize: number;
  };
  readonly worker: {
    /** How long a job stays locked to a worker that stopped renewing it (crashed) before another takes it over. */
    readonly jobLockMs: number;
  };
  readonly scans: {
    /** Largest scan report POST /api/v1/scan-reports accepts (after gzip inflation); larger is a 413. */
    readonly maxReportBytes: number;
  };
  readonly http: {
    /** Time to receive a request's headers; a slower client gets 408 and the connection closed. */
    readonly headersTimeoutMs: number;
    /**
     * Time to receive a whole request, body included (a body trickled byte by byte is cut
     * with 408). Responses are not bounded by it: a bundle long poll waits after the request.
     */
    readonly requestTimeoutMs: number;
    /** How long an idle keep-alive connection stays open between requests. */
    readonly keepAliveTimeoutMs: number;
    /** Strict-Transport-Security max-age, sent in production (served behind TLS) or over TLS; 0: never. */
    readonly hstsMaxAgeSeconds: number;
  };
  /**
   * AES-256-GCM keys for secrets at rest (alert destinations' URLs, signing secrets, tokens):
   * the first seals, every one opens (rotation). Outside production, when none is configured,
   * a fixed development key (id `dev`) that production refuses; production without any stores
   * no alert destination (the API refuses with a message naming the setting).
   */
  readonly secretsEncryptionKeys: readonly { readonly id: string; readonly key: Buffer }[];
  readonly alerts: {
    /** Destinations on loopback/private/link-local addresses allowed (development and tests only). */
    readonly allowPrivateDestinations: boolean;
    readonly delivery: { readonly attempts: number; readonly backoffBaseMs: number; readonly backoffMaxMs: number };
    readonly connectTimeoutMs: number;
    readonly responseTimeoutMs: number;
    readonly maxResponseBytes: number;
    /** A PEM file of extra CA certificates trusted for receivers, beside Node's roots. */
    readonly extraCaFile: string | null;
    /** Default per-destination rate limit (each destination may set its own). */
    readonly rateLimitPerMinute: number;
    readonly siemBatchSize: number;
    readonly siemBatchMs: number;
    readonly workerConcurrency: number;
  };
}

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    detail: string,
  ) {
    super(`invalid configuration: ${setting} ${detail}`);
  }
}

/** Connections of each API pool left outside the tenant gate (sign-in, health, agent credential checks). */
export const DB_RESERVED_CONNECTIONS = 2;

const ENTRA_METADATA = 'https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration';
const ENTRA_ISSUER = 'https://login.microsoftonline.com/{tenantid}/v2.0';

/** Validates the environment; throws ConfigError naming the first bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(String(issue.path[0]), issue.message);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  if (production && e.DEV_ISSUER_ENABLED) {
    throw new ConfigError(
      'DEV_ISSUER_ENABLED',
      'must not be true when NODE_ENV=production (the dev issuer is never trusted in production)',
    );
  }
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError(
      'HTTP_HEADERS_TIMEOUT_MS',
      `must not exceed HTTP_REQUEST_TIMEOUT_MS (${e.HTTP_REQUEST_TIMEOUT_MS})`,
    );
  }
  const devIssuerOn = !production && (e.DEV_ISSUER_ENABLED ?? true);
  const devIssuerBase = `https://127.0.0.1:${e.DEV_ISSUER_PORT}`;
  if (production && (e.AUTH_METADATA_URL?.startsWith(devIssuerBase) ?? false)) {
    throw new ConfigError('AUTH_METADATA_URL', 'points at the local dev issuer, which production refuses');
  }
  if (production && e.ALERTS_ALLOW_PRIVATE_DESTINATIONS) {
    throw new ConfigError(
      'ALERTS_ALLOW_PRIVATE_DESTINATIONS',
      'must not be true when NODE_ENV=production (alert destinations on private addresses are refused in production)',
    );
  }
  const secretsEncryptionKeys = readEncryptionKeys(e.SECRETS_ENCRYPTION_KEYS, production);
  const gatedSlots = Math.min(e.DB_POOL_SIZE, e.DB_SQL_POOL_SIZE) - DB_RESERVED_CONNECTIONS;
  if (e.DB_TENANT_CONCURRENCY >= gatedSlots) {
    throw new ConfigError(
      'DB_TENANT_CONCURRENCY',
      `must be below ${gatedSlots} (the smaller pool less ${DB_RESERVED_CONNECTIONS} reserved connections), so one tenant cannot hold every connection`,
    );
  }
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    logLevel: e.LOG_LEVEL,
    auth: {
      audience: e.AUTH_AUDIENCE,
      metadataUrl:
        e.AUTH_METADATA_URL ??
        (devIssuerOn ? `${devIssuerBase}/common/v2.0/.well-known/openid-configuration` : ENTRA_METADATA),
      issuerTemplate: e.AUTH_ISSUER_TEMPLATE ?? (devIssuerOn ? `${devIssuerBase}/{tenantid}/v2.0` : ENTRA_ISSUER),
      clockSkewSeconds: e.AUTH_CLOCK_SKEW_SECONDS,
    },
    devIssuer: devIssuerOn ? { port: e.DEV_ISSUER_PORT, stateDir: e.DEV_ISSUER_STATE_DIR } : null,
    graphql: {
      maxComplexity: e.GRAPHQL_MAX_COMPLEXITY,
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxExpensiveFields: e.GRAPHQL_MAX_EXPENSIVE_FIELDS,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
    },
    database: {
      poolSize: e.DB_POOL_SIZE,
      sqlPoolSize: e.DB_SQL_POOL_SIZE,
      tenantConcurrency: e.DB_TENANT_CONCURRENCY,
      tenantExpensiveConcurrency: e.DB_TENANT_EXPENSIVE_CONCURRENCY,
      requestConcurrency: e.DB_REQUEST_CONCURRENCY,
      tenantQueue: e.DB_TENANT_QUEUE,
      queueWaitMs: e.DB_QUEUE_WAIT_MS,
    },
    requestBodyLimitBytes: e.REQUEST_BODY_LIMIT_BYTES,
    bundles: {
      signingKeysDir: e.BUNDLE_SIGNING_KEYS_DIR,
      generateMissingKeys: !production,
      ttlMs: e.BUNDLE_TTL_HOURS * 3_600_000,
      compileChunkSize: e.BUNDLE_COMPILE_CHUNK_SIZE,
    },
    worker: { jobLockMs: e.WORKER_JOB_LOCK_SECONDS * 1000 },
    scans: { maxReportBytes: e.SCAN_REPORT_MAX_BYTES },
    http: {
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      hstsMaxAgeSeconds: e.HSTS_MAX_AGE_SECONDS,
    },
    secretsEncryptionKeys,
    alerts: {
      allowPrivateDestinations: e.ALERTS_ALLOW_PRIVATE_DESTINATIONS,
      delivery: {
        attempts: e.ALERTS_DELIVERY_ATTEMPTS,
        backoffBaseMs: e.ALERTS_BACKOFF_BASE_MS,
        backoffMaxMs: Math.max(e.ALERTS_BACKOFF_MAX_MS, e.ALERTS_BACKOFF_BASE_MS),
      },
      connectTimeoutMs: e.ALERTS_CONNECT_TIMEOUT_MS,
      responseTimeoutMs: e.ALERTS_RESPONSE_TIMEOUT_MS,
      maxResponseBytes: e.ALERTS_MAX_RESPONSE_BYTES,
      extraCaFile: e.ALERTS_EXTRA_CA_FILE ?? null,
      rateLimitPerMinute: e.ALERTS_RATE_LIMIT_PER_MINUTE,
      siemBatchSize: e.ALERTS_SIEM_BATCH_SIZE,
      siemBatchMs: e.ALERTS_SIEM_BATCH_MS,
      workerConcurrency: e.ALERTS_WORKER_CONCURRENCY,
    },
  };
}

/**
 * The development key: public by construction (it is in this file), so production refuses it
 * and its id. Secrets sealed with it in development do not open in production.
 */
const DEV_ENCRYPTION_KEY = { id: 'dev', key: Buffer.alloc(32, 'portcullis-development-only-key!') };

/** `SECRETS_ENCRYPTION_KEYS`: `<id>=<base64 of 32 bytes>[,<id>=<base64>...]`, the first seals. */
function readEncryptionKeys(raw: string | undefined, production: boolean): { id: string; key: Buffer }[] {
  // production without keys starts (nothing else needs them) but stores no alert destination: it says so when asked
  if (raw === undefined) return production ? [] : [DEV_ENCRYPTION_KEY];
  const keys: { id: string; key: Buffer }[] = [];
  for (const [i, entry] of raw.split(',').entries()) {
    const eq = entry.indexOf('=');
    const id = entry.slice(0, eq).trim();
    const b64 = entry.slice(eq + 1).trim();
    if (eq <= 0 || !/^[A-Za-z0-9_-]{1,32}$/.test(id))
      throw new ConfigError(
        'SECRETS_ENCRYPTION_KEYS',
        `entry ${i + 1} must be <id>=<base64>, the id 1-32 letters, digits, "_" or "-"`,
      );
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || Buffer.from(b64, 'base64').length !== 32)
      throw new ConfigError('SECRETS_ENCRYPTION_KEYS', `key "${id}" must be the base64 of exactly 32 bytes`);
    if (keys.some((k) => k.id === id)) throw new ConfigError('SECRETS_ENCRYPTION_KEYS', `key id "${id}" appears twice`);
    const key = Buffer.from(b64, 'base64');
    if (production && (id === DEV_ENCRYPTION_KEY.id || key.equals(DEV_ENCRYPTION_KEY.key)))
      throw new ConfigError('SECRETS_ENCRYPTION_KEYS', 'holds the development key, which production refuses');
    keys.push({ id, key });
  }
  return keys;
}

/** For process entry points: a bad setting stops the process with one line naming it. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): AppConfig {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`portcullis: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
