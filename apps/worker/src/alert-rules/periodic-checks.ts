import {
  CompiledAlertRule,
  PERIODIC_RULE_KINDS,
  type AlertRuleRecord,
  type DigestWindows,
  type Occurrence,
} from '@portcullis/alert-rules';
import type { SqlPool } from '@portcullis/db';
import { Prisma } from '@portcullis/db';
import type { InventoryStore } from '@portcullis/inventory';
import type { Redis } from 'ioredis';
import type { PoolClient } from 'pg';
import { clusterAlert, stableAlertId, tenantAlert, type ClusterRef } from './alert-text';
import type { AlertOutbox } from './batch-evaluation';
import { enabledRulesOfKinds } from './rule-store';

const DAY_MS = 86_400_000;
/** Audit-log entries are re-read this far back (their time is their transaction's start), deduplicated by id. */
const AUDIT_OVERLAP_MS = 60_000;
const AUDIT_SEEN_MS = 3_600_000;
/** Audit actions CONFIG_CHANGE watches: policies (exemptions included) and role assignments. */
const CONFIG_ACTION_PREFIXES = ['policy.', 'role.'];

interface ClusterRow extends ClusterRef {
  readonly lastSeenAt: Date | null;
  readonly createdAt: Date;
  readonly appliedRevision: number | null;
  readonly bundleRevision: number | null;
  readonly droppedEvents: number | null;
}

interface StateRow {
  readonly ruleId: string;
  readonly subject: string;
  readonly active: boolean;
  readonly alerted: boolean;
  readonly since: Date;
  readonly counter: string;
}

interface StateChange {
  readonly ruleId: string;
  readonly subject: string;
  readonly active: boolean;
  readonly alerted: boolean;
  readonly since: Date;
  readonly counter: number;
}

export interface PeriodicResult {
  readonly rules: number;
  readonly alerts: number;
}

/**
 * The worker's periodic pass over the rules that watch state rather than events: clusters
 * (AGENT_SILENT, BUNDLE_BEHIND, EVENTS_DROPPED), audit-to-deny readiness (POLICY_READY) and the
 * audit log (CONFIG_CHANGE). Per rule and subject a state row says whether the condition holds
 * and whether this episode alerted: an alert goes out on the edge, once per episode, again only
 * after recovery. Each tenant's state changes and alerts commit together.
 */
export class PeriodicChecks {
  constructor(
    private readonly pool: SqlPool,
    private readonly redis: Redis,
    private readonly redisPrefix: string,
    private readonly inventory: InventoryStore,
    private readonly digests: DigestWindows,
    private readonly outbox: AlertOutbox,
    private readonly scheduleFlush: (tenantId: string, ruleId: string, start: number, delayMs: number) => Promise<void>,
  ) {}

  async run(now: Date): Promise<PeriodicResult> {
    const rules = await enabledRulesOfKinds(this.pool, PERIODIC_RULE_KINDS);
    const byTenant = new Map<string, AlertRuleRecord[]>();
    for (const r of rules) byTenant.set(r.tenantId, [...(byTenant.get(r.tenantId) ?? []), r]);
    let alerts = 0;
    for (const [tenantId, list] of byTenant) {
      alerts += await this.pool.inTenant(tenantId, (client) => this.tenant(client, tenantId, list, now));
      await this.outbox.flush();
    }
    alerts += await this.configChanges(
      rules.filter((r) => r.kind === 'CONFIG_CHANGE'),
      now,
    );
    return { rules: rules.length, alerts };
  }

  private async tenant(client: PoolClient, tenantId: string, rules: AlertRuleRecord[], now: Date): Promise<number> {
    const stateful = rules.filter((r) => r.kind !== 'CONFIG_CHANGE');
    if (stateful.length === 0) return 0;
    const states = new Map<string, StateRow>();
    for (const s of (
      await client.query<StateRow>(
        `SELECT alert_rule_id::text AS "ruleId", subject, active, alerted, since, counter::text AS counter
           FROM alert_rule_states WHERE alert_rule_id = ANY($1::uuid[])`,
        [stateful.map((r) => r.id)],
      )
    ).rows)
      states.set(`${s.ruleId}\u0000${s.subject}`, s);
    const changes: StateChange[] = [];
    let alerts = 0;
    const send = async (rule: AlertRuleRecord, alert: Parameters<AlertOutbox['persist']>[1]) => {
      await this.outbox.persist(client, alert, rule.destinationIds);
      alerts++;
    };

    const clusterRules = stateful.filter((r) => r.kind !== 'POLICY_READY');
    if (clusterRules.length > 0) {
      const clusters = (
        await client.query<ClusterRow>(
          `SELECT id::text, name, cloud_scope_id::text AS "cloudScopeId", last_seen_at AS "lastSeenAt", created_at AS "createdAt",
                  applied_revision AS "appliedRevision", bundle_revision AS "bundleRevision", agent_dropped_events AS "droppedEvents"
             FROM clusters`,
        )
      ).rows;
      for (const record of clusterRules) {
        const rule = new CompiledAlertRule(record);
        for (const c of clusters) {
          if (!rule.matchesCluster(c.cloudScopeId, c.id)) continue;
          const state = states.get(`${record.id}\u0000${c.id}`);
          const change = await this.clusterCheck(record, c, state, now, send);
          if (change) changes.push(change);
        }
      }
    }
    for (const record of stateful.filter((r) => r.kind === 'POLICY_READY'))
      changes.push(...(await this.readiness(client, tenantId, record, states, now, send)));

    if (changes.length > 0)
      await client.query(
        `INSERT INTO alert_rule_states (tenant_id, alert_rule_id, subject, active, alerted, since, counter, updated_at)
         SELECT $1::uuid, r, s, a, al, si, c, $8::timestamptz
           FROM unnest($2::uuid[], $3::text[], $4::boolean[], $5::boolean[], $6::timestamptz[], $7::bigint[]) AS t(r, s, a, al, si, c)
         ON CONFLICT (alert_rule_id, subject) DO UPDATE
           SET active = excluded.active, alerted = excluded.alerted, since = excluded.since, counter = excluded.counter,
               updated_at = excluded.updated_at`,
        [
          tenantId,
          changes.map((c) => c.ruleId),
          changes.map((c) => c.subject),
          changes.map((c) => c.active),
          changes.map((c) => c.alerted),
          changes.map((c) => c.since),
          changes.map((c) => c.counter),
          now,
        ],
      );
    return alerts;
  }

  /** One cluster against one AGENT_SILENT / BUNDLE_BEHIND / EVENTS_DROPPED rule: the state change, if any. */
  private async clusterCheck(
    rule: AlertRuleRecord,
    c: ClusterRow,
    state: StateRow | undefined,
    now: Date,
    send: (rule: AlertRuleRecord, alert: Parameters<AlertOutbox['persist']>[1]) => Promise<void>,
  ): Promise<StateChange | null> {
    const base = { ruleId: rule.id, subject: c.id };
    const thresholdMs = (rule.thresholdMinutes ?? 10) * 60_000;
    switch (rule.kind) {
      case 'AGENT_SILENT': {
        const last = c.lastSeenAt ?? c.createdAt;
        const silent = now.getTime() - last.getTime() >= thresholdMs;
        if (!silent) return state?.active ? { ...base, active: false, alerted: false, since: now, counter: 0 } : null;
        if (state?.alerted) return null;
        const minutes = Math.floor((now.getTime() - last.getTime()) / 60_000);
        await send(
          rule,
          clusterAlert(
            stableAlertId(`AGENT_SILENT\u0000${rule.id}\u0000${c.id}\u0000${last.getTime()}`),
            rule,
            c,
            now,
            `Agent of cluster ${c.name} silent for ${minutes} minutes`,
            `The Portcullis agent of cluster ${c.name} has not reported since ${c.lastSeenAt ? c.lastSeenAt.toISOString() : 'its registration'} (threshold ${rule.thresholdMinutes} minutes). Admissions there are not being recorded; check the agent's pods and its network path to the API.`,
            { lastSeenAt: c.lastSeenAt?.toISOString() ?? null, thresholdMinutes: rule.thresholdMinutes },
          ),
        );
        return { ...base, active: true, alerted: true, since: last, counter: 0 };
      }
      case 'BUNDLE_BEHIND': {
        const behind = c.bundleRevision !== null && (c.appliedRevision ?? 0) < c.bundleRevision;
        if (!behind) return state?.active ? { ...base, active: false, alerted: false, since: now, counter: 0 } : null;
        const since = state?.active ? state.since : now;
        if (state?.alerted) return null;
        if (now.getTime() - since.getTime() < thresholdMs)
          return state?.active ? null : { ...base, active: true, alerted: false, since, counter: 0 };
        await send(
          rule,
          clusterAlert(
            stableAlertId(`BUNDLE_BEHIND\u0000${rule.id}\u0000${c.id}\u0000${since.getTime()}`),
            rule,
            c,
            now,
            `Cluster ${c.name} runs bundle revision ${c.appliedRevision ?? 'none'}, behind ${c.bundleRevision}`,
            `Cluster ${c.name} has applied revision ${c.appliedRevision ?? 'none'} while revision ${c.bundleRevision} exists, since ${since.toISOString()} (threshold ${rule.thresholdMinutes} minutes): policy changes are not enforced there. Check the agent's last error.`,
            { appliedRevision: c.appliedRevision, latestRevision: c.bundleRevision, since: since.toISOString() },
          ),
        );
        return { ...base, active: true, alerted: true, since, counter: 0 };
      }
      case 'EVENTS_DROPPED': {
        const current = c.droppedEvents ?? 0;
        const previous = state ? Number(state.counter) : 0;
        if (current === previous) return null;
        if (current < previous) return { ...base, active: false, alerted: false, since: now, counter: current }; // agent restarted
        await send(
          rule,
          clusterAlert(
            stableAlertId(`EVENTS_DROPPED\u0000${rule.id}\u0000${c.id}\u0000${previous}\u0000${current}`),
            rule,
            c,
            now,
            `Agent of cluster ${c.name} dropped ${current - previous} admission events`,
            `The agent of cluster ${c.name} reports ${current} events dropped since it started (${current - previous} new): its spool was full, so those admissions are missing from the inventory. Check the agent's upload errors and spool size.`,
            { droppedEvents: current, newlyDropped: current - previous },
          ),
        );
        return { ...base, active: true, alerted: true, since: now, counter: current };
      }
      default:
        return null;
    }
  }

  /**
   * POLICY_READY: each Audit policy the rule names (or every one) against the audit-to-deny
   * readiness (no would-be denial in the last readyAfterDays days, from the workload rollups
   * the report reads). The first look only records the state; the false -> true edge alerts.
   */
  private async readiness(
    client: PoolClient,
    tenantId: string,
    rule: AlertRuleRecord,
    states: ReadonlyMap<string, StateRow>,
    now: Date,
    send: (rule: AlertRuleRecord, alert: Parameters<AlertOutbox['persist']>[1]) => Promise<void>,
  ): Promise<StateChange[]> {
    const policies = (
      await client.query<{ id: string; name: string }>(
        `SELECT id::text, name FROM policies WHERE action = 'AUDIT' AND (cardinality($1::uuid[]) = 0 OR id = ANY($1::uuid[]))`,
        [rule.policyIds],
      )
    ).rows;
    const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
    const window = {
      from: new Date(today - (rule.readyAfterDays - 1) * DAY_MS),
      to: new Date(today + DAY_MS),
      readyFrom: new Date(today - (rule.readyAfterDays - 1) * DAY_MS),
    };
    const changes: StateChange[] = [];
    for (const p of policies) {
      const rows = await this.inventory.auditToDenyRows(tenantId, p.id, window, Prisma.sql`TRUE`);
      // the report's readiness: no workload the policy's outcome counted has a recent would-be denial
      const ready = rows.every((r) => r[4] === '0' || Number(r[5]) === 0);
      const state = states.get(`${rule.id}\u0000${p.id}`);
      if (state && state.active === ready) continue;
      if (state && ready) {
        await send(
          rule,
          tenantAlert(
            stableAlertId(`POLICY_READY\u0000${rule.id}\u0000${p.id}\u0000${state.since.getTime()}`),
            rule,
            now,
            `Policy "${p.name}" is ready to switch to Block`,
            `No admission would have been denied by the Audit policy "${p.name}" in the last ${rule.readyAfterDays} day(s): switching it to Block now would deny nothing that ran recently. Review its audit-to-deny report, then change its action to BLOCK.`,
            { policy: { id: p.id, name: p.name, action: 'AUDIT' }, details: { readyAfterDays: rule.readyAfterDays } },
          ),
        );
      }
      changes.push({
        ruleId: rule.id,
        subject: p.id,
        active: ready,
        alerted: ready && !!state,
        since: now,
        counter: 0,
      });
    }
    return changes;
  }

  /**
   * CONFIG_CHANGE from the audit log: entries of the last pass (re-read with an overlap, since an
   * entry's time is its transaction's start and it may commit later), each taken once (Redis
   * SET NX by entry id), through the digest windows like events.
   */
  private async configChanges(rules: readonly AlertRuleRecord[], now: Date): Promise<number> {
    if (rules.length === 0) return 0;
    const cursorKey = `${this.redisPrefix}:alert-rules:audit-cursor`;
    const sinceKey = `${this.redisPrefix}:alert-rules:audit-since`;
    const [previous, since] = (await this.redis.mget(cursorKey, sinceKey)).map(Number);
    await this.redis.set(cursorKey, String(now.getTime()));
    // the first pass starts watching; nothing before it is news (not even within the overlap)
    if (!previous || !since) {
      await this.redis.set(sinceKey, String(now.getTime()));
      return 0;
    }
    const tenants = [...new Set(rules.map((r) => r.tenantId))];
    const entries = await this.pool.asOwner<{
      id: string;
      tenantId: string;
      occurredAt: Date;
      principalId: string;
      principalName: string | null;
      action: string;
      targetType: string;
      targetId: string;
    }>(
      `SELECT id::text, tenant_id::text AS "tenantId", occurred_at AS "occurredAt", principal_id AS "principalId",
              principal_name AS "principalName", action, target_type AS "targetType", target_id AS "targetId"
         FROM audit_log WHERE tenant_id = ANY($1::uuid[]) AND occurred_at > $2 ORDER BY id LIMIT 5000`,
      [tenants, new Date(Math.max(previous! - AUDIT_OVERLAP_MS, since!))],
    );
    const relevant = entries.filter((e) => CONFIG_ACTION_PREFIXES.some((p) => e.action.startsWith(p)));
    if (relevant.length === 0) return 0;
    const claim = this.redis.pipeline();
    for (const e of relevant) claim.set(`${this.redisPrefix}:alert-audit-seen:${e.id}`, '1', 'PX', AUDIT_SEEN_MS, 'NX');
    const claimed = (await claim.exec()) ?? [];
    const fresh = relevant.filter((_, i) => claimed[i]?.[1] === 'OK');
    let alerts = 0;
    for (const tenantId of tenants) {
      const mine = fresh.filter((e) => e.tenantId === tenantId);
      if (mine.length === 0) continue;
      // a failed pass gives its entries back, so the next pass takes them again
      const release = () =>
        this.redis.del(...mine.map((e) => `${this.redisPrefix}:alert-audit-seen:${e.id}`)).catch(() => 0);
      alerts += await this.pool
        .inTenant(tenantId, async (client) => {
          const pairs: Array<{ rule: AlertRuleRecord; e: (typeof mine)[number] }> = [];
          for (const rule of rules.filter((r) => r.tenantId === tenantId)) {
            const policies = new Set(rule.policyIds.map((p) => p.toLowerCase()));
            for (const e of mine) {
              if (policies.size > 0 && !(e.targetType === 'Policy' && policies.has(e.targetId.toLowerCase()))) continue;
              pairs.push({ rule, e });
            }
          }
          const fates = await this.digests.admit(
            pairs.map(({ rule, e }): Occurrence => ({
              ruleId: rule.id,
              digestSeconds: rule.digestSeconds,
              occurredAt: e.occurredAt.toISOString(),
              sample: {
                occurredAt: e.occurredAt.toISOString(),
                action: e.action,
                target: `${e.targetType}/${e.targetId}`,
                by: e.principalName ?? e.principalId,
              },
            })),
            now.getTime(),
          );
          let sent = 0;
          for (let i = 0; i < pairs.length; i++) {
            const { rule, e } = pairs[i]!;
            const fate = fates[i]!;
            if (fate.outcome === 'schedule')
              await this.scheduleFlush(tenantId, rule.id, fate.start, fate.flushAt - now.getTime());
            if (fate.outcome !== 'alert') continue;
            const who = e.principalName ?? e.principalId;
            await this.outbox.persist(
              client,
              tenantAlert(
                stableAlertId(`CONFIG_CHANGE\u0000${rule.id}\u0000${e.id}`),
                rule,
                e.occurredAt,
                `${who}: ${e.action} on ${e.targetType} ${e.targetId}`,
                `${who} made the change "${e.action}" on ${e.targetType} ${e.targetId} at ${e.occurredAt.toISOString()}. The audit log holds the before and after.`,
                { details: { auditEntryId: e.id, action: e.action, targetType: e.targetType, targetId: e.targetId } },
              ),
              rule.destinationIds,
            );
            sent++;
          }
          return sent;
        })
        .catch(async (err: unknown) => {
          await release();
          throw err;
        });
    }
    return alerts;
  }
}
