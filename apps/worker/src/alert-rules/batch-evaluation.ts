import type { Alert } from '@portcullis/alerts';
import {
  type DigestWindows,
  type EvaluateBatchJob,
  type EventCandidate,
  type Occurrence,
} from '@portcullis/alert-rules';
import type { SqlPool } from '@portcullis/db';
import type { Redis } from 'ioredis';
import type { PoolClient } from 'pg';
import { eventAlert, sampleOf, stableAlertId } from './alert-text';
import type { EvaluationCache } from './rule-store';

/**
 * Where alerts go: `persist` stores an alert and its delivery rows in the caller's tenant-bound
 * transaction (dispatchAlert's first half); `flush`, once that transaction committed, adds the
 * delivery jobs (its second half) — a job added before the commit would find no row and wait for
 * its retry. A commit whose flush never ran is picked up by the delivery sweep.
 */
export interface AlertOutbox {
  persist(client: PoolClient, alert: Alert, destinationIds: readonly string[]): Promise<void>;
  flush(): Promise<void>;
}

/** How long a Block denial's event id is remembered against re-sent batches. */
const SEEN_MS = 48 * 3_600_000;

/**
 * One `evaluate-batch` job: the candidates the API matched in one stored batch become alerts.
 * - BLOCK_DENIAL: once per (rule, event): a re-sent batch finds its event ids taken (Redis SET NX,
 *   pipelined; a retry of this same job finds them taken by itself and goes on).
 * - FIRST_WOULD_DENY: once per (rule, workload, policy, engine rule) ever: ONE
 *   INSERT … ON CONFLICT DO NOTHING RETURNING for the whole job, in the transaction that
 *   dispatches, so a failed dispatch leaves nothing claimed.
 * - Then the digest windows: the first occurrence alerts now, later ones fold into one digest
 *   whose flush job runs at the window's end.
 * Alert ids derive from the occurrence, so a retried job dispatches nothing twice.
 */
export class BatchEvaluation {
  constructor(
    private readonly pool: SqlPool,
    private readonly cache: EvaluationCache,
    private readonly redis: Redis,
    private readonly redisPrefix: string,
    private readonly digests: DigestWindows,
    private readonly scheduleFlush: (tenantId: string, ruleId: string, start: number, delayMs: number) => Promise<void>,
    private readonly outbox: AlertOutbox,
  ) {}

  async run(job: EvaluateBatchJob, jobId: string, now: number): Promise<{ alerts: number; folded: number }> {
    const ids = [...new Set(job.candidates.map((c) => c.a))];
    const result = await this.pool.inTenant(job.tenantId, async (client) => {
      const rules = await this.cache.rulesOf(client, job.tenantId, ids);
      if (rules.size === 0) return { alerts: 0, folded: 0 };
      const cluster = await this.cache.cluster(client, job.clusterId, job.cloudScopeId);
      const live = job.candidates.filter((c) => rules.has(c.a));
      const blocks = await this.unseenEvents(
        live.filter((c) => c.x === 'BLOCK_DENIAL'),
        jobId,
      );
      const firsts = await this.firstDenials(
        client,
        job,
        live.filter((c) => c.x === 'FIRST_WOULD_DENY'),
        now,
      );
      const occurring = [...blocks, ...firsts];
      const fates = await this.digests.admit(
        occurring.map((c): Occurrence => ({
          ruleId: c.a,
          digestSeconds: rules.get(c.a)!.digestSeconds,
          occurredAt: c.t,
          sample: sampleOf(c, cluster),
        })),
        now,
      );
      let alerts = 0;
      for (let i = 0; i < occurring.length; i++) {
        const c = occurring[i]!;
        const rule = rules.get(c.a)!;
        const fate = fates[i]!;
        if (fate.outcome === 'alert') {
          await this.outbox.persist(
            client,
            eventAlert(stableAlertId(occurrenceKey(c, job.clusterId)), rule, c, cluster),
            rule.destinationIds,
          );
          alerts++;
        } else if (fate.outcome === 'schedule') {
          await this.scheduleFlush(job.tenantId, rule.id, fate.start, fate.flushAt - now);
        }
      }
      return { alerts, folded: occurring.length - alerts };
    });
    await this.outbox.flush();
    return result;
  }

  /** The candidates whose event id this job is first to claim (or claimed in an earlier attempt). */
  private async unseenEvents(candidates: readonly EventCandidate[], jobId: string): Promise<EventCandidate[]> {
    if (candidates.length === 0) return [];
    const key = (c: EventCandidate) => `${this.redisPrefix}:alert-seen:${c.a}:${c.e}`;
    const claim = this.redis.pipeline();
    for (const c of candidates) claim.set(key(c), jobId, 'PX', SEEN_MS, 'NX');
    const claimed = (await claim.exec()) ?? [];
    const taken: number[] = [];
    claimed.forEach(([err, reply], i) => {
      if (err) throw err;
      if (reply !== 'OK') taken.push(i);
    });
    const mine = new Set<number>(candidates.keys());
    if (taken.length > 0) {
      const read = this.redis.pipeline();
      for (const i of taken) read.get(key(candidates[i]!));
      const owners = (await read.exec()) ?? [];
      taken.forEach((i, j) => {
        if (owners[j]?.[1] !== jobId) mine.delete(i);
      });
    }
    return candidates.filter((_, i) => mine.has(i));
  }

  /** The (rule, workload, policy rule) pairs never alerted before: one statement for the whole job. */
  private async firstDenials(
    client: PoolClient,
    job: EvaluateBatchJob,
    candidates: readonly EventCandidate[],
    now: number,
  ): Promise<EventCandidate[]> {
    if (candidates.length === 0) return [];
    const out = await client.query<{ k: string }>(
      `INSERT INTO alert_first_denials (tenant_id, alert_rule_id, cluster_id, namespace, owner_kind, owner_name, policy_id, rule_id, first_at)
       SELECT $1::uuid, a, $2::uuid, ns, ok, own, p, r, $3::timestamptz
         FROM unnest($4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) AS t(a, ns, ok, own, p, r)
       ON CONFLICT DO NOTHING
       RETURNING concat_ws(chr(1), alert_rule_id::text, namespace, owner_kind, owner_name, policy_id, rule_id) AS k`,
      [
        job.tenantId,
        job.clusterId,
        new Date(now),
        candidates.map((c) => c.a),
        candidates.map((c) => c.ns),
        candidates.map((c) => c.ok),
        candidates.map((c) => c.on),
        candidates.map((c) => c.p),
        candidates.map((c) => c.r),
      ],
    );
    const fresh = new Set(out.rows.map((r) => r.k));
    return candidates.filter((c) => fresh.has([c.a.toLowerCase(), c.ns, c.ok, c.on, c.p, c.r].join('\u0001')));
  }
}

function occurrenceKey(c: EventCandidate, clusterId: string): string {
  return c.x === 'BLOCK_DENIAL'
    ? `BLOCK_DENIAL\u0000${c.a}\u0000${c.e}`
    : `FIRST_WOULD_DENY\u0000${c.a}\u0000${clusterId}\u0000${c.ns}\u0000${c.ok}\u0000${c.on}\u0000${c.p}\u0000${c.r}`;
}
