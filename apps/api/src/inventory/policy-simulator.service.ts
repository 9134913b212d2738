import { Inject, Injectable } from '@nestjs/common';
import type { TenantTx } from '@portcullis/db';
import { compilePolicies, evaluatePolicies, type Exemption, type Policy as EnginePolicy } from '@portcullis/policy-engine';
import { CLOCK, badInput, type Clock } from '@portcullis/platform';
import { composeRules, patchRules, validateNamespacePatterns, type StoredRule } from '../policies/policy-rules';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { AuditToDenyService } from './audit-to-deny.service';
import { VerdictChange, type PolicyDraftInput, type PolicySimulation, type ReportWindowArgs, type WorkloadFlip } from './inventory.types';
import { readableScopes } from './reader-scope';
import { buildReport, reportWindow, type ReportMeta, type ViolationRow } from './report-shape';
import { decompressSnapshot } from './snapshot-codec';

const MAX_FLIPS = 500;
const DRAFT_ID = 'draft';

interface Draft {
  readonly policy: EnginePolicy;
  readonly policyId: string | null;
  readonly name: string;
  readonly cloudScopeIds: readonly string[];
  readonly clusterIds: readonly string[];
}

interface SnapshotDayRow {
  day: Date;
  cluster_id: string;
  cloud_scope_id: string;
  namespace: string;
  owner_kind: string;
  owner_name: string;
  h: string;
  admissions: number;
  last_at: Date;
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
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  simulate(principal: Principal, input: PolicyDraftInput, args: ReportWindowArgs): Promise<PolicySimulation> {
    if (args.readyAfterDays > args.days) throw badInput('readyAfterDays', 'readyAfterDays must be at most days');
    const now = this.clock.now();
    const w = reportWindow(now, args.days, args.readyAfterDays);
    const loaded = this.db.run(principal, async (tx) => {
      const draft = await this.draft(tx, principal, input, now);
      const scope = readableScopes(principal);
      const rows = await tx.$queryRaw<SnapshotDayRow[]>`
        SELECT day, cluster_id, cloud_scope_id, namespace, owner_kind, owner_name, encode(snapshot_hash, 'hex') AS h, admissions::int AS admissions, last_at
        FROM admission_snapshot_days WHERE day >= ${w.from} AND day < ${w.to} AND ${scope}`;
      const bodies = await tx.$queryRaw<Array<{ h: string; body: Uint8Array }>>`
        SELECT encode(hash, 'hex') AS h, body FROM admission_snapshots
        WHERE hash IN (SELECT DISTINCT snapshot_hash FROM admission_snapshot_days WHERE day >= ${w.from} AND day < ${w.to} AND ${scope})`;
      const [{ total }] = await tx.$queryRaw<[{ total: number }]>`
        SELECT coalesce(sum(admissions), 0)::int AS total FROM admission_rollups_hourly
        WHERE hour >= ${w.from} AND hour < ${w.to} AND policy_id = '' AND ${scope}`;
      const current = draft.policyId
        ? await tx.$queryRaw<Array<{ cluster_id: string; namespace: string; owner_kind: string; owner_name: string }>>`
            SELECT DISTINCT cluster_id, namespace, owner_kind, owner_name FROM admission_workload_days
            WHERE policy_id = ${draft.policyId} AND rule_id = '' AND decision IN ('AUDITED', 'DENIED') AND day >= ${w.from} AND day < ${w.to} AND ${scope}`
        : [];
      return { draft, rows, bodies, total, current };
    });
    // evaluated after the transaction: it holds no connection while the engine runs
    return loaded.then(({ draft, rows, bodies, total, current }) => {
      const violations = evaluate(draft, rows, new Map(bodies.map((b) => [b.h, b.body])), now);
      const meta: ReportMeta = { policyId: draft.policyId, policyName: draft.name, action: draft.policy.action, ...w, readyAfterDays: args.readyAfterDays, workloadLimit: args.workloadLimit };
      const report = buildReport(violations.rows, meta);

      // only workloads with recorded snapshots can be compared
      const evaluable = new Set(rows.map((r) => key(r.cluster_id, r.namespace, r.owner_kind, r.owner_name)));
      const denied = new Set(violations.rows.map((r) => key(r.clusterId, r.namespace, r.ownerKind, r.ownerName)));
      const before = new Set(current.map((c) => key(c.cluster_id, c.namespace, c.owner_kind, c.owner_name)).filter((k) => evaluable.has(k)));
      const flips: WorkloadFlip[] = [];
      for (const k of denied) if (!before.has(k)) flips.push(flip(k, VerdictChange.ALLOW_TO_DENY));
      for (const k of before) if (!denied.has(k)) flips.push(flip(k, VerdictChange.DENY_TO_ALLOW));
      flips.sort((a, b) => (a.change < b.change ? -1 : a.change > b.change ? 1 : key(a.clusterId, a.namespace, a.kind, a.name) < key(b.clusterId, b.namespace, b.kind, b.name) ? -1 : 1));
      const withSnapshot = rows.reduce((n, r) => n + r.admissions, 0);
      return { report, flips: flips.slice(0, MAX_FLIPS), flipCount: flips.length, snapshotsEvaluated: violations.evaluated, admissionsWithoutSnapshot: Math.max(0, total - withSnapshot) };
    });
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

function evaluate(draft: Draft, rows: readonly SnapshotDayRow[], bodies: ReadonlyMap<string, Uint8Array>, now: Date): { rows: ViolationRow[]; evaluated: number } {
  const [compiled] = compilePolicies([draft.policy]);
  const objects = new Map<string, unknown>();
  const verdicts = new Map<string, readonly string[]>();
  const inScope = (r: SnapshotDayRow) =>
    (draft.clusterIds.length === 0 && draft.cloudScopeIds.length === 0) || draft.clusterIds.includes(r.cluster_id) || draft.cloudScopeIds.includes(r.cloud_scope_id);
  const out: ViolationRow[] = [];
  for (const r of rows) {
    if (!inScope(r)) continue;
    const vkey = `${r.h}\u0000${r.namespace}\u0000${r.owner_kind}\u0000${r.owner_name}`;
    let rules = verdicts.get(vkey);
    if (!rules) {
      let object = objects.get(r.h);
      if (object === undefined) {
        const body = bodies.get(r.h);
        object = body ? decompressSnapshot(body) : null;
        objects.set(r.h, object);
      }
      const result = object === null ? undefined : evaluatePolicies(object, [compiled!], { defaultNamespace: r.namespace, now, owner: { kind: r.owner_kind, name: r.owner_name } });
      rules = [...new Set((result?.violations ?? []).filter((v) => !v.exempted && v.reason !== 'RULE_ERROR').map((v) => v.rule))];
      verdicts.set(vkey, rules);
    }
    if (rules.length === 0) continue;
    out.push({
      day: r.day.getTime(),
      clusterId: r.cluster_id,
      namespace: r.namespace,
      ownerKind: r.owner_kind,
      ownerName: r.owner_name,
      rules: new Map(rules.map((rule) => [rule, r.admissions])),
      admissions: r.admissions,
      lastAt: r.last_at.getTime(),
    });
  }
  return { rows: out, evaluated: objects.size };
}

const key = (cluster: string, namespace: string, kind: string, name: string) => `${cluster}\u0000${namespace}\u0000${kind}\u0000${name}`;

function flip(k: string, change: VerdictChange): WorkloadFlip {
  const [clusterId, namespace, kind, name] = k.split('\u0000') as [string, string, string, string];
  return { clusterId, namespace, kind, name, change };
}

