import * as fs from 'node:fs';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import {
  ALERTS_QUEUE,
  DELIVER_JOB,
  DestinationRateLimiter,
  SWEEP_JOB,
  SecretBox,
  SiemBatcher,
  alertsQueue,
  backoffDelay,
  deliverJobOptions,
  deliveryJobId,
  destinationAad,
  readAlertsJob,
  sendAlert,
  type Alert,
  type AlertsQueue,
  type AttemptOutcome,
  type DeliverJob,
  type DeliveryTarget,
  type DestinationKind,
  type SafeHttpOptions,
} from '@portcullis/alerts';
import type { AppConfig } from '@portcullis/config';
import type { SqlPool } from '@portcullis/db';
import { APP_CONFIG, LOGGER, REDIS, type Logger } from '@portcullis/platform';
import type { Redis } from 'ioredis';

export const ALERTS_SQL = Symbol('ALERTS_SQL');

/** A sweep every minute re-adds the jobs of deliveries pending for over two minutes (their job lost with Redis data). */
const SWEEP_EVERY_MS = 60_000;
const SWEEP_AFTER = '2 minutes';

/** A job whose delivery row is not visible yet (its dispatcher has not committed) looks again this often, this long. */
const UNCOMMITTED_RECHECK_MS = 100;
const UNCOMMITTED_WAIT_MS = 60_000;

/** A retriable failure carrying the delay the next attempt waits (the backoff strategy reads it). */
class RetryLater extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

interface DeliveryRow {
  status: string;
  body: Alert;
  kind: DestinationKind;
  enabled: boolean;
  deleted: boolean;
  url_encrypted: string;
  secret_encrypted: string | null;
  previous_secret_encrypted: string | null;
  previous_secret_live: boolean;
  token_header: string | null;
  token_encrypted: string | null;
  rate_limit_per_minute: number;
}

const LOAD_SQL = `
SELECT d.status, a.body, dest.kind, dest.enabled, dest.deleted_at IS NOT NULL AS deleted,
       dest.url_encrypted, dest.secret_encrypted, dest.previous_secret_encrypted,
       coalesce(dest.previous_secret_expires_at > now(), false) AS previous_secret_live,
       dest.token_header, dest.token_encrypted, dest.rate_limit_per_minute
  FROM alert_deliveries d
  JOIN alerts a ON a.id = d.alert_id
  JOIN alert_destinations dest ON dest.id = d.destination_id
 WHERE d.alert_id = $1 AND d.destination_id = $2`;

const RECORD_SQL = `
UPDATE alert_deliveries
   SET status = $3, attempts = greatest(attempts, $4), last_http_status = $5, last_error = $6,
       next_attempt_at = $7, updated_at = now(),
       delivered_at = CASE WHEN $3 = 'DELIVERED' THEN now() ELSE delivered_at END,
       dead_at = CASE WHEN $3 = 'DEAD' THEN now() ELSE dead_at END
 WHERE alert_id = $1 AND destination_id = $2 AND status NOT IN ('DELIVERED', 'DEAD')`;

/**
 * The `alerts` queue: one job per (alert, destination). Each attempt reads the delivery and its
 * destination (decrypting URL, secrets and token for this attempt only), waits for the
 * destination's rate limit by delaying the job (not failing it), sends, and records the outcome
 * in the delivery log: DELIVERED on 2xx; RETRYING with exponential backoff and jitter on 408,
 * 425, 429 (Retry-After honoured), 5xx and network failures; DEAD at once on a redirect, another
 * 4xx or a refused (SSRF) address, and after the last attempt. SIEM deliveries are batched per
 * destination into one NDJSON POST.
 */
@Injectable()
export class AlertDeliveryProcessor implements OnModuleInit, OnModuleDestroy {
  private worker: Worker | undefined;
  private queue: AlertsQueue | undefined;
  private connection: Redis | undefined;
  private readonly box: SecretBox;
  private readonly http: SafeHttpOptions;
  private readonly limiter: DestinationRateLimiter;
  private readonly siem: SiemBatcher;

  constructor(
    @Inject(ALERTS_SQL) private readonly sql: SqlPool,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    const a = config.alerts;
    this.box = new SecretBox(config.secretsEncryptionKeys);
    this.http = {
      allowPrivate: a.allowPrivateDestinations,
      connectTimeoutMs: a.connectTimeoutMs,
      responseTimeoutMs: a.responseTimeoutMs,
      maxResponseBytes: a.maxResponseBytes,
      ...(a.extraCaFile ? { extraCa: fs.readFileSync(a.extraCaFile, 'utf8') } : {}),
    };
    this.limiter = new DestinationRateLimiter(redis, config.redisPrefix);
    this.siem = new SiemBatcher(this.http, Math.min(a.siemBatchSize, a.workerConcurrency), a.siemBatchMs, (target) =>
      this.waitForToken(target.id, this.siemRates.get(target.id) ?? a.rateLimitPerMinute),
    );
  }

  private readonly siemRates = new Map<string, number>();

  async onModuleInit(): Promise<void> {
    const connection = (this.connection = this.redis.duplicate({ maxRetriesPerRequest: null }));
    this.queue = alertsQueue(this.redis, this.config.redisPrefix);
    await this.queue.upsertJobScheduler(SWEEP_JOB, { every: SWEEP_EVERY_MS }, { name: SWEEP_JOB, data: {} });
    const retry = this.config.alerts.delivery;
    this.worker = new Worker(ALERTS_QUEUE, (job, token) => this.process(job, token), {
      connection,
      prefix: this.config.redisPrefix,
      concurrency: this.config.alerts.workerConcurrency,
      lockDuration: Math.max(this.config.worker.jobLockMs, this.config.alerts.responseTimeoutMs * 2),
      stalledInterval: this.config.worker.jobLockMs,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) =>
          err instanceof RetryLater ? err.delayMs : backoffDelay(attemptsMade, retry),
      },
    });
    this.worker.on('failed', (job, err) => void this.onFailed(job, err));
  }

  async onModuleDestroy(): Promise<void> {
    this.siem.flushAll();
    await this.worker?.close();
    await this.queue?.close();
    await this.connection?.quit().catch(() => undefined);
  }

  async process(job: Job, token?: string): Promise<unknown> {
    const read = readAlertsJob(job.name, job.data);
    if (!read.ok) throw new UnrecoverableError(read.reason);
    if (read.value.name === SWEEP_JOB) return this.sweep();
    return this.deliver(job, read.value.data, token);
  }

  private async deliver(job: Job, d: DeliverJob, token: string | undefined): Promise<string> {
    const rows = await this.sql.inTenant(
      d.tenantId,
      async (c) => (await c.query<DeliveryRow>(LOAD_SQL, [d.alertId, d.destinationId])).rows,
    );
    const row = rows[0];
    const attempt = job.attemptsMade + 1;
    const last = attempt >= (job.opts.attempts ?? 1);
    if (!row) {
      // the dispatcher's transaction has not committed yet (jobs are added inside it when it
      // dispatches in its own transaction): look again shortly, without spending an attempt, for
      // up to a minute; past that it rolled back, and the attempts run out on their own
      if (token && Date.now() - job.timestamp < UNCOMMITTED_WAIT_MS) {
        await job.moveToDelayed(Date.now() + UNCOMMITTED_RECHECK_MS, token);
        throw new DelayedError();
      }
      throw new RetryLater(
        `delivery of alert ${d.alertId} to ${d.destinationId} not found (yet)`,
        backoffDelay(attempt, { backoffBaseMs: 500, backoffMaxMs: 30_000 }),
      );
    }
    if (row.status === 'DELIVERED' || row.status === 'DEAD') return row.status; // dispatched twice: sent once
    if (row.deleted || !row.enabled) {
      await this.record(
        d,
        { result: 'dead', reason: `destination ${row.deleted ? 'deleted' : 'disabled'} before delivery` },
        attempt,
        null,
      );
      return 'DEAD';
    }
    let target: DeliveryTarget;
    try {
      target = this.open(d, row);
    } catch (err) {
      const reason = `destination secrets cannot be opened: ${(err as Error).message}`;
      await this.record(d, { result: 'dead', reason }, attempt, null);
      throw new UnrecoverableError(reason);
    }
    let outcome: AttemptOutcome;
    if (row.kind === 'SIEM') {
      this.siemRates.set(d.destinationId, row.rate_limit_per_minute);
      outcome = await this.siem.add(target, row.body);
    } else {
      const wait = await this.limiter.take(d.destinationId, row.rate_limit_per_minute);
      if (wait > 0 && token) {
        // over the destination's rate: wait as a delayed job (not an attempt, not a failure)
        await job.moveToDelayed(Date.now() + wait, token);
        throw new DelayedError();
      }
      outcome = await sendAlert(target, row.body, this.http);
    }
    if (outcome.result === 'delivered') {
      await this.record(d, outcome, attempt, null);
      return 'DELIVERED';
    }
    if (outcome.result === 'dead' || last) {
      const reason =
        outcome.result === 'retry' ? `${outcome.reason}; gave up after ${attempt} attempts` : outcome.reason;
      await this.record(d, { ...outcome, result: 'dead', reason }, attempt, null);
      throw new UnrecoverableError(reason);
    }
    const delay = backoffDelay(attempt, this.config.alerts.delivery, outcome.retryAfterMs ?? 0);
    await this.record(d, outcome, attempt, new Date(Date.now() + delay));
    throw new RetryLater(outcome.reason, delay);
  }

  private open(d: DeliverJob, row: DeliveryRow): DeliveryTarget {
    const aad = (field: string) => destinationAad(d.tenantId, d.destinationId, field);
    const secrets: string[] = [];
    if (row.secret_encrypted) secrets.push(this.box.open(row.secret_encrypted, aad('secret')));
    if (row.previous_secret_encrypted && row.previous_secret_live)
      secrets.push(this.box.open(row.previous_secret_encrypted, aad('previous_secret')));
    return {
      id: d.destinationId,
      kind: row.kind,
      url: this.box.open(row.url_encrypted, aad('url')),
      secrets,
      ...(row.token_header && row.token_encrypted
        ? { tokenHeader: row.token_header, token: this.box.open(row.token_encrypted, aad('token')) }
        : {}),
    };
  }

  private async waitForToken(destinationId: string, perMinute: number): Promise<void> {
    for (;;) {
      const wait = await this.limiter.take(destinationId, perMinute);
      if (wait <= 0) return;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  private async record(
    d: DeliverJob,
    outcome: AttemptOutcome,
    attempt: number,
    nextAttemptAt: Date | null,
  ): Promise<void> {
    const status = outcome.result === 'delivered' ? 'DELIVERED' : outcome.result === 'dead' ? 'DEAD' : 'RETRYING';
    const error = outcome.result === 'delivered' ? null : outcome.reason.slice(0, 1000);
    await this.sql.inTenant(d.tenantId, (c) =>
      c.query(RECORD_SQL, [d.alertId, d.destinationId, status, attempt, outcome.status ?? null, error, nextAttemptAt]),
    );
    const log = {
      alertId: d.alertId,
      destinationId: d.destinationId,
      status,
      attempt,
      httpStatus: outcome.status,
      error,
    };
    if (status === 'DEAD') this.logger.warn(log, 'alert delivery dead-lettered');
    else this.logger.debug(log, 'alert delivery attempt');
  }

  /** A job that failed for good outside the outcomes above (e.g. the database was down on its last attempt). */
  private async onFailed(job: Job | undefined, err: Error): Promise<void> {
    if (!job || job.name !== DELIVER_JOB || err instanceof UnrecoverableError) return;
    if (job.attemptsMade < (job.opts.attempts ?? 1)) return;
    const read = readAlertsJob(job.name, job.data);
    if (!read.ok || read.value.name !== DELIVER_JOB) return;
    const reason = `${err.message.slice(0, 300)}; gave up after ${job.attemptsMade} attempts`;
    await this.record(read.value.data, { result: 'dead', reason }, job.attemptsMade, null).catch((e: unknown) =>
      this.logger.error({ err: e, jobId: job.id }, 'alert delivery: recording the dead letter failed'),
    );
  }

  /** Re-adds the jobs of deliveries left pending (a job lost with Redis data); existing job ids add nothing. */
  private async sweep(): Promise<number> {
    const rows = await this.sql.asOwner<{ tenant_id: string; alert_id: string; destination_id: string }>(
      `SELECT tenant_id::text, alert_id::text, destination_id::text FROM alert_deliveries
        WHERE status IN ('QUEUED', 'RETRYING') AND updated_at < now() - interval '${SWEEP_AFTER}'
        ORDER BY updated_at LIMIT 1000`,
    );
    if (rows.length === 0) return 0;
    const opts = deliverJobOptions(this.config.alerts.delivery);
    await this.queue!.addBulk(
      rows.map((r) => ({
        name: DELIVER_JOB,
        data: { tenantId: r.tenant_id, alertId: r.alert_id, destinationId: r.destination_id },
        opts: { ...opts, jobId: deliveryJobId(r.alert_id, r.destination_id) },
      })),
    );
    return rows.length;
  }
}
