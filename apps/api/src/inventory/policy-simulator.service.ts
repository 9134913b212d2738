import { Inject, Injectable } from '@nestjs/common';
import type { TenantTx } from '@portcullis/db';
import { liveExemptions, policyScopeOf } from '@portcullis/distribution';
import { InventoryStore } from '@portcullis/inventory';
import {
  compilePolicies,
  evaluatePolicies,
  wouldBlock,
  type CompiledPolicy,
  type Exemption,
  type Policy as EnginePolicy,
} from '@portcullis/policy-engine';
import { CLOCK, badInput, yieldEvery, type Clock } from '@portcullis/platform';
import { RunningWorkloadsService } from '../running/running-workloads.service';
import { WorkloadSource, type RunningWouldDeny } from '../running/running.types';
import { composeRules, patchRules, validateNamespacePatterns, type StoredRule } from '../policies/policy-rules';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility } from '../tenancy/visibility';
import { AuditToDenyService } from './audit-to-deny.service';
import {
  VerdictChange,
  type PolicyDraftInput,
  type PolicySimulation,
  type ReportWindowArgs,
  type RunningSimulation,
  type WorkloadFlip,
} from './inventory.types';
import { reportWindow, withRunning, type ReportMeta } from './report-shape';
import { SimulationEvaluator, inflateSnapshots, workloadKey } from './simulation-stream';

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
    private readonly store: InventoryStore,
    private readonly running: RunningWorkloadsService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Rows per FETCH of the simulation cursor (~1.5 MB at 2,000); tests lower it to cross many chunk boundaries. */
  chunkRows = 2000;

  async simulate(
    principal: Principal,
    input: PolicyDraftInput,
    args: ReportWindowArgs & { readonly includeRunning?: boolean },
  ): Promise<PolicySimulation> {
    if (args.readyAfterDays > args.days) throw badInput('readyAfterDays', 'readyAfterDays must be at most days');
    const now = this.clock.now();
    const w = reportWindow(now, args.days, args.readyAfterDays);
    const draft = await this.db.run(principal, (tx) => this.draft(tx, principal, input, now));
    const [compiled] = compilePolicies([draft.policy]);
    const evaluator = new SimulationEvaluator(compiled!, now, w.readyFrom);
    // straight through pg (Prisma's row mapping cost more than the query), under the tenant's row-level security
    const { total, current } = await this.store.simulationRecord(
      principal.tenantId,
      {
        window: w,
        scope: Visibility.of(principal).sql(),
        policyId: draft.policyId,
        clusterIds: draft.clusterIds,
        cloudScopeIds: draft.cloudScopeIds,
        chunkRows: this.chunkRows,
      },
      evaluator,
    );

    const t = evaluator.tally;
    const meta: ReportMeta = {
      policyId: draft.policyId,
      policyName: draft.name,
      action: draft.policy.action,
      ...w,
      readyAfterDays: args.readyAfterDays,
      workloadLimit: args.workloadLimit,
    };
    let report = t.violations.report(meta);
    let running: RunningSimulation | null = null;
    if (args.includeRunning) {
      const r = await this.simulateRunning(principal, draft, compiled!, now);
      running = r.summary;
      report = withRunning(report, r.wouldDeny, args.workloadLimit);
    }
    // only workloads with recorded snapshots can be compared
    const denied = new Set(t.violations.keys());
    const before = new Set(current.map((c) => workloadKey(...c)).filter((k) => t.evaluable.has(k)));
    const flips: WorkloadFlip[] = [];
    for (const k of denied) if (!before.has(k)) flips.push(flip(k, VerdictChange.ALLOW_TO_DENY));
    for (const k of before) if (!denied.has(k)) flips.push(flip(k, VerdictChange.DENY_TO_ALLOW));
    flips.sort((a, b) =>
      a.change < b.change
        ? -1
        : a.change > b.change
          ? 1
          : workloadKey(a.clusterId, a.namespace, a.kind, a.name) <
              workloadKey(b.clusterId, b.namespace, b.kind, b.name)
            ? -1
            : 1,
    );
    return {
      report,
      flips: flips.slice(0, MAX_FLIPS),
      flipCount: flips.length,
      snapshotsEvaluated: t.evaluated,
      admissionsWithoutSnapshot: Math.max(0, total - t.withSnapshot),
      running,
    };
  }

  /**
   * The draft on the workloads running now (background audit): each running workload of the caller's
   * scopes in the draft's cluster scope, evaluated on its stored snapshot; flips against the agent's
   * current evaluation of the base policy.
   */
  private async simulateRunning(
    principal: Principal,
    draft: Draft,
    compiled: CompiledPolicy,
    now: Date,
  ): Promise<{ summary: RunningSimulation; wouldDeny: RunningWouldDeny[] }> {
    const all = await this.running.snapshots(principal, draft.policyId);
    const restricted = draft.clusterIds.length > 0 || draft.cloudScopeIds.length > 0;
    const rows = restricted
      ? all.filter(
          (r) =>
            draft.clusterIds.some((c) => c.toLowerCase() === r.cluster_id) ||
            draft.cloudScopeIds.some((c) => c.toLowerCase() === r.cloud_scope_id),
        )
      : all;
    const withSnapshot = rows.filter((r) => r.body !== null);
    const objects = await inflateSnapshots(withSnapshot.map((r) => r.body!));
    const checkpoint = yieldEvery();
    const wouldDeny: RunningWouldDeny[] = [];
    const flips: WorkloadFlip[] = [];
    for (let i = 0; i < withSnapshot.length; i++) {
      await checkpoint();
      const r = withSnapshot[i]!;
      const result = evaluatePolicies(objects[i], [compiled], {
        defaultNamespace: r.namespace,
        now,
        owner: { kind: r.kind, name: r.name },
      });
      const rules = [...new Set(result.violations.filter(wouldBlock).map((v) => v.rule))].sort();
      if (rules.length > 0)
        wouldDeny.push({
          source: WorkloadSource.RUNNING,
          clusterId: r.cluster_id,
          namespace: r.namespace,
          kind: r.kind,
          name: r.name,
          pods: r.pods,
          rules,
          since: null,
          evaluatedRevision: r.evaluated_revision,
        });
      if (draft.policyId && r.denied_now !== rules.length > 0)
        flips.push({
          clusterId: r.cluster_id,
          namespace: r.namespace,
          kind: r.kind,
          name: r.name,
          change: rules.length > 0 ? VerdictChange.ALLOW_TO_DENY : VerdictChange.DENY_TO_ALLOW,
          source: WorkloadSource.RUNNING,
        });
    }
    return {
      wouldDeny,
      summary: {
        workloads: rows.length,
        evaluated: withSnapshot.length,
        withoutSnapshot: rows.length - withSnapshot.length,
        wouldDenyWorkloads: wouldDeny.length,
        wouldDenyPods: wouldDeny.reduce((n, w) => n + w.pods, 0),
        flips: flips.slice(0, MAX_FLIPS),
        flipCount: flips.length,
      },
    };
  }

  /** The draft as the engine's policy: an existing policy with changes, or a new one. */
  private async draft(tx: TenantTx, principal: Principal, input: PolicyDraftInput, now: Date): Promise<Draft> {
    const base = input.policyId
      ? await (async () => {
          await this.reports.visiblePolicy(tx, principal, input.policyId!);
          return tx.policy.findUniqueOrThrow({
            where: { id: input.policyId },
            include: { rules: true, cloudScopes: true, clusters: true, exemptions: true },
          });
        })()
      : undefined;
    const type = base?.type ?? input.type;
    if (!type) throw badInput('draft.type', 'draft.type is required when draft.policyId is not given');
    if (input.type && base && input.type !== base.type)
      throw badInput('draft.type', `draft.type: policy ${base.id} is a ${base.type} policy`);
    if (type !== 'MISCONFIGURATION')
      throw badInput(
        'draft.type',
        'draft.type: only MISCONFIGURATION policies can be simulated (vulnerability gating needs the scan artifacts of the time)',
      );
    const stored: StoredRule[] = base
      ? base.rules.map((r) => ({ ruleId: r.ruleId, enabled: r.enabled, params: r.params as Record<string, unknown> }))
      : [];
    const rules =
      input.presets.length || !base
        ? composeRules(type, input.presets, input.rules)
        : patchRules(type, stored, input.rules);
    const namespaces = input.scope?.namespaces
      ? {
          include: validateNamespacePatterns(input.scope.namespaces.include, 'draft.scope.namespaces.include'),
          exclude: validateNamespacePatterns(input.scope.namespaces.exclude, 'draft.scope.namespaces.exclude'),
        }
      : { include: base?.namespaceInclude ?? [], exclude: base?.namespaceExclude ?? [] };
    const exemptions = liveExemptions(base?.exemptions ?? [], now) as unknown as Exemption[];
    const storedScope = base ? policyScopeOf(base) : { cloudScopeIds: [], clusterIds: [] };
    return {
      policyId: base?.id ?? null,
      name: base?.name ?? 'draft',
      cloudScopeIds: input.scope ? input.scope.cloudScopeIds : storedScope.cloudScopeIds,
      clusterIds: input.scope ? input.scope.clusterIds : storedScope.clusterIds,
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
  return { clusterId, namespace, kind, name, change, source: WorkloadSource.ADMISSION };
}
