import { Inject, Injectable } from '@nestjs/common';
import { Prisma, type TenantTx } from '@portcullis/db';
import { compilePolicies, type Exemption, type Policy as EnginePolicy } from '@portcullis/policy-engine';
import { CLOCK, badInput, type Clock } from '@portcullis/platform';
import { composeRules, patchRules, validateNamespacePatterns, type StoredRule } from '../policies/policy-rules';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility } from '../tenancy/visibility';
import { AuditToDenyService } from './audit-to-deny.service';
import { VerdictChange, type PolicyDraftInput, type PolicySimulation, type ReportWindowArgs, type WorkloadFlip } from './inventory.types';
import { workloadMonthsInWindow } from './workload-months';
import { SqlPool } from '../platform/sql-pool';
import { reportWindow, type ReportMeta } from './report-shape';
import { SimulationEvaluator, streamCursor, workloadKey } from './simulation-stream';

const MAX_FLIPS = 500;
const DRAFT_ID = 'draft';

interface Draft {
  readonly policy: EnginePolicy;
  readonly policyId: string | null;
  readonly name: string;
  readonly cloudScopeIds: readonly string[];
  readonly clusterIds: readonly string[];
}

/**
 * Evaluates a draft policy with the engine the agents run, on the snapshots recorded
 * in the window — each distinct (snapshot, namespace, workload) once — and answers
 * with the audit-to-deny report's shape plus the workloads whose verdict changes
 * against the current policy's recorded outcome.
 */
@Injectable()
export class PolicySimulatorService {
  constructor(
    private readonly db: TenantDb,
    private readonly reports: AuditToDenyService,
    private readonly pool: SqlPool,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Rows per FETCH of the simulation cursor (~1.5 MB at 2,000); tests lower it to cross many chunk boundaries. */
  chunkRows = 2000;

  async simulate(principal: Principal, input: PolicyDraftInput, args: ReportWindowArgs): Promise<PolicySimulation> {
    if (args.readyAfterDays > args.days) throw badInput('readyAfterDays', 'readyAfterDays must be at most days');
    const now = this.clock.now();
    const w = reportWindow(now, args.days, args.readyAfterDays);
    const draft = await this.db.run(principal, (tx) => this.draft(tx, principal, input, now));
    const [compiled] = compilePolicies([draft.policy]);
    const evaluator = new SimulationEvaluator(compiled!, now, w.readyFrom);
    const scope = Visibility.of(principal).sql();
    // straight through pg (Prisma's row mapping cost more than the query), under the tenant's row-level security
    const { total, current } = await this.pool.inTenant(principal.tenantId, async (client) => {
      const totalSql = Prisma.sql`
        SELECT coalesce(sum(admissions), 0)::int AS total FROM admission_rollups_hourly
        WHERE hour >= ${w.from} AND hour < ${w.to} AND policy_id = '' AND ${scope}`;
      const [{ total }] = (await client.query<{ total: number }>(totalSql.text, totalSql.values)).rows as [{ total: number }];
      const currentSql = draft.policyId
        ? Prisma.sql`
          SELECT cluster_id::text, namespace, owner_kind, owner_name
          FROM ${workloadMonthsInWindow(draft.policyId, w, Prisma.sql`rule_id = '' AND decision IN ('AUDITED', 'DENIED') AND ${scope}`)} m
          GROUP BY cluster_id, namespace, owner_kind, owner_name
          HAVING sum(t[hi] - coalesce(t[lo - 1], 0)) > 0`
        : null;
      const current = currentSql ? (await client.query<[string, string, string, string]>({ text: currentSql.text, values: currentSql.values, rowMode: 'array' })).rows : [];
      // each distinct (snapshot, namespace, workload) once, with the snapshot-days it stands for;
      // the draft's cluster and cloud-scope restriction is applied per snapshot-day
      const inDraft = draft.clusterIds.length === 0 && draft.cloudScopeIds.length === 0
        ? Prisma.sql`TRUE`
        : Prisma.sql`(cluster_id::text = ANY(${draft.clusterIds}::text[]) OR cloud_scope_id::text = ANY(${draft.cloudScopeIds}::text[]))`;
      // no order asked for: the planner may hash the bodies once (~40% less PostgreSQL CPU than a
      // primary-key lookup per row) or look them up, whichever is cheaper for the tenant's data
      const cursor = Prisma.sql`
        SELECT encode(k.snapshot_hash, 'base64'), k.namespace, k.owner_kind, k.owner_name, k.in_scope, k.entries, CASE WHEN k.in_scope THEN s.body END
        FROM (
          SELECT snapshot_hash, namespace, owner_kind, owner_name, bool_or(in_scope) AS in_scope,
                 string_agg(concat_ws(' ', cluster_id, (date_part('epoch', day) * 1000)::bigint, admissions, (date_part('epoch', last_at) * 1000)::bigint, in_scope::int), ',') AS entries
          FROM (SELECT *, ${inDraft} AS in_scope FROM admission_snapshot_days WHERE day >= ${w.from} AND day < ${w.to} AND ${scope}) d
          GROUP BY snapshot_hash, namespace, owner_kind, owner_name
        ) k LEFT JOIN admission_snapshots s ON s.hash = k.snapshot_hash`;
      // the snapshot-days (~160,000 rows a month at 2,000 workloads) are grouped, and the bodies hashed, in memory
      await client.query("SET LOCAL work_mem = '64MB'");
      await streamCursor(client, cursor.text, cursor.values, this.chunkRows, evaluator);
      return { total, current };
    });

    const t = evaluator.tally;
    const meta: ReportMeta = { policyId: draft.policyId, policyName: draft.name, action: draft.policy.action, ...w, readyAfterDays: args.readyAfterDays, workloadLimit: args.workloadLimit };
    const report = t.violations.report(meta);
    // only workloads with recorded snapshots can be compared
    const denied = new Set(t.violations.keys());
    const before = new Set(current.map((c) => workloadKey(...c)).filter((k) => t.evaluable.has(k)));
    const flips: WorkloadFlip[] = [];
    for (const k of denied) if (!before.has(k)) flips.push(flip(k, VerdictChange.ALLOW_TO_DENY));
    for (const k of before) if (!denied.has(k)) flips.push(flip(k, VerdictChange.DENY_TO_ALLOW));
    flips.sort((a, b) => (a.change < b.change ? -1 : a.change > b.change ? 1 : workloadKey(a.clusterId, a.namespace, a.kind, a.name) < workloadKey(b.clusterId, b.namespace, b.kind, b.name) ? -1 : 1));
    return { report, flips: flips.slice(0, MAX_FLIPS), flipCount: flips.length, snapshotsEvaluated: t.evaluated, admissionsWithoutSnapshot: Math.max(0, total - t.withSnapshot) };
  }

  /** The draft as the engine's policy: an existing policy with changes, or a new one. */
  private async draft(tx: TenantTx, principal: Principal, input: PolicyDraftInput, now: Date): Promise<Draft> {
    const base = input.policyId
      ? await (async () => {
          await this.reports.visiblePolicy(tx, principal, input.policyId!);
          return tx.policy.findUniqueOrThrow({ where: { id: input.policyId }, include: { rules: true, cloudScopes: true, clusters: true, exemptions: true } });
        })()
      : undefined;
    const type = base?.type ?? input.type;
    if (!type) throw badInput('draft.type', 'draft.type is required when draft.policyId is not given');
    if (input.type && base && input.type !== base.type) throw badInput('draft.type', `draft.type: policy ${base.id} is a ${base.type} policy`);
    if (type !== 'MISCONFIGURATION') throw badInput('draft.type', 'draft.type: only MISCONFIGURATION policies can be simulated (vulnerability gating needs the scan artifacts of the time)');
    const stored: StoredRule[] = base ? base.rules.map((r) => ({ ruleId: r.ruleId, enabled: r.enabled, params: r.params as Record<string, unknown> })) : [];
    const rules = input.presets.length || !base ? composeRules(type, input.presets, input.rules) : patchRules(type, stored, input.rules);
    const namespaces = input.scope?.namespaces
      ? { include: validateNamespacePatterns(input.scope.namespaces.include, 'draft.scope.namespaces.include'), exclude: validateNamespacePatterns(input.scope.namespaces.exclude, 'draft.scope.namespaces.exclude') }
      : { include: base?.namespaceInclude ?? [], exclude: base?.namespaceExclude ?? [] };
    const exemptions: Exemption[] = (base?.exemptions ?? [])
      .filter((e) => e.expiresAt === null || e.expiresAt > now)
      .map((e) => ({ ...(e.criteria as Record<string, unknown>), id: e.id, reason: e.reason, grantedBy: e.grantedBy, expiresAt: e.expiresAt?.toISOString() ?? null }) as Exemption);
    return {
      policyId: base?.id ?? null,
      name: base?.name ?? 'draft',
      cloudScopeIds: input.scope ? input.scope.cloudScopeIds : (base?.cloudScopes.map((s) => s.cloudScopeId) ?? []),
      clusterIds: input.scope ? input.scope.clusterIds : (base?.clusters.map((c) => c.clusterId) ?? []),
      policy: {
        id: DRAFT_ID,
        name: base?.name ?? 'draft',
        type,
        action: input.action ?? base?.action ?? 'AUDIT',
        namespaces,
        rules: rules.filter((r) => r.enabled).map((r) => ({ id: r.ruleId, params: r.params })),
        exemptions,
      },
    };
  }
}

function flip(k: string, change: VerdictChange): WorkloadFlip {
  const [clusterId, namespace, kind, name] = k.split('\u0000') as [string, string, string, string];
  return { clusterId, namespace, kind, name, change };
}

