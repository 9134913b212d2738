import { z } from 'zod';
import { EVENT_LIMITS as L, MAX_SNAPSHOT_BYTES, POLICY_ACTIONS, SNAPSHOT_HASH } from './admission-event-model';
import { jsonFitsWithin } from './json-size';
import {
  API_VERSION,
  INT4_MAX,
  KIND,
  RULE_ID,
  count,
  namespaceName,
  plainText,
  revision,
  text,
  timestamp,
  uuid,
} from './primitives';
import { validateWith, type Validated } from './result';

/**
 * POST /agent/v1/workload-reports: what runs in the agent's cluster now and what it violates
 * (the background audit, issue #25). The cluster is the agent credential's, as for admission events.
 *
 * - FULL: the complete set of running workloads, possibly in pages (`sync`). The API stages the
 *   pages and replaces the cluster's current state atomically when the `last` page arrives: a
 *   workload absent from a completed FULL sync is gone. An incomplete sync older than
 *   WORKLOAD_REPORT_LIMITS.syncTtlSeconds is discarded.
 * - DELTA: new or changed workloads, and removed ones. A DELTA with neither is a heartbeat: it
 *   moves the cluster's evaluated revision and last report time.
 *
 * Reports are idempotent by `reportId`: a re-sent report is acknowledged, not applied twice.
 *
 * Answers: 200 WorkloadReportResult; 400 BAD_USER_INPUT naming the field (`workloads[3].violations[0].rule`),
 * nothing stored; 409 CONFLICT on `sync.page` with `restartSync: true` when the API does not hold the
 * sync's earlier pages (a page missing, or the sync unknown, superseded or older than syncTtlSeconds):
 * nothing applied, and the agent sends the FULL sync again from page 1 under a new sync id.
 */
export const WORKLOAD_REPORT_MODES = ['FULL', 'DELTA'] as const;
export type WorkloadReportMode = (typeof WORKLOAD_REPORT_MODES)[number];

export const WORKLOAD_REPORT_LIMITS = {
  workloads: 500,
  removed: 1000,
  images: 100,
  violations: 200,
  /** Pages of one FULL sync: 500 x 1000 = 500,000 workloads. */
  pages: 1000,
  /** A FULL sync whose last page has not arrived after this long is discarded. */
  syncTtlSeconds: 15 * 60,
} as const;

/** One rule's verdict on a running workload (the terms of an admission event's Finding). */
export interface RunningViolation {
  readonly policyId: string;
  /** The rule id (`Finding.ruleId`). */
  readonly rule: string;
  readonly action: 'AUDIT' | 'BLOCK';
  readonly message: string;
  /** Field path in the evaluated object, e.g. `spec.template.spec.containers[0].securityContext.privileged`. */
  readonly path?: string;
  /** The container the violation is in; absent for pod-level and object-level checks. */
  readonly container?: string;
  /** The image the violation is about (vulnerability and registry rules). */
  readonly image?: string;
  /** Matched by an exemption: recorded, but it would not deny. */
  readonly exempted: boolean;
}

export interface RunningWorkload {
  /**
   * The top-most controller: Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet (no owner),
   * ReplicationController, Pod (bare), Ingress.
   */
  readonly kind: string;
  readonly apiVersion: string;
  /** null for cluster-scoped objects. */
  readonly namespace: string | null;
  readonly name: string;
  readonly uid: string;
  /** Running pods it owns now (1 for a bare pod, 0 for an Ingress). */
  readonly pods: number;
  /** As written in the spec, at most WORKLOAD_REPORT_LIMITS.images. */
  readonly images: readonly string[];
  /** prepareSnapshot(snapshot).hash (snapshot-id.ts): the id under which the API stores the snapshot. */
  readonly snapshotHash: string;
  /**
   * The evaluated object, stripped as an admission event's snapshot is; always sent in FULL and when
   * the hash changed. The API checks that it hashes to `snapshotHash`.
   */
  readonly snapshot?: Readonly<Record<string, unknown>>;
  /** Would be denied on admission = some non-exempted BLOCK violation. */
  readonly violations: readonly RunningViolation[];
}

export interface WorkloadRef {
  readonly kind: string;
  readonly namespace: string | null;
  readonly name: string;
}

export interface WorkloadReport {
  /** Chosen by the agent (UUID); the API applies a report once. */
  readonly reportId: string;
  readonly mode: WorkloadReportMode;
  /** Required for FULL, absent for DELTA. */
  readonly sync?: { readonly id: string; readonly page: number; readonly last: boolean };
  /** The bundle revision every workload of the cluster is now evaluated with; null without a valid bundle. */
  readonly bundleRevision: number | null;
  /** The agent's clock. */
  readonly observedAt: string;
  readonly workloads: readonly RunningWorkload[];
  /** DELTA only: deleted workloads. */
  readonly removed: readonly WorkloadRef[];
}

const kind = z.string().regex(KIND, 'is not a Kubernetes kind');

export const RunningViolationSchema: z.ZodType<RunningViolation, z.ZodTypeDef, unknown> = z.object({
  policyId: text(L.policyId),
  rule: z.string().regex(RULE_ID, 'is not a rule id'),
  action: z.enum(POLICY_ACTIONS),
  message: text(L.message),
  path: plainText(L.path).optional(),
  container: text(L.container).optional(),
  image: text(L.image).optional(),
  exempted: z.boolean(),
});

const workloadRef = {
  kind,
  namespace: namespaceName.nullable(),
  name: text(L.name),
};

export const RunningWorkloadSchema: z.ZodType<RunningWorkload, z.ZodTypeDef, unknown> = z
  .object({
    ...workloadRef,
    apiVersion: z.string().max(L.apiVersion).regex(API_VERSION, 'is not a Kubernetes apiVersion'),
    uid: text(L.uid),
    pods: count.max(INT4_MAX),
    images: z.array(text(L.image)).max(WORKLOAD_REPORT_LIMITS.images),
    snapshotHash: z.string().regex(SNAPSHOT_HASH, 'is not a snapshot id (64 lowercase hex digits)'),
    snapshot: z.record(z.unknown()).optional(),
    violations: z.array(RunningViolationSchema).max(WORKLOAD_REPORT_LIMITS.violations),
  })
  .superRefine((w, ctx) => {
    if (w.snapshot !== undefined && !jsonFitsWithin(w.snapshot, MAX_SNAPSHOT_BYTES))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['snapshot'],
        message: `is larger than ${MAX_SNAPSHOT_BYTES} bytes of JSON; the agent must trim or omit it`,
      });
  });

export const WorkloadRefSchema: z.ZodType<WorkloadRef, z.ZodTypeDef, unknown> = z.object(workloadRef);

/** `kind/namespace/name`: one workload of a cluster (namespace '' for cluster-scoped objects). */
export function workloadKey(w: WorkloadRef): string {
  return `${w.kind}/${w.namespace ?? ''}/${w.name}`;
}

export const WorkloadReportSchema: z.ZodType<WorkloadReport, z.ZodTypeDef, unknown> = z
  .object({
    reportId: uuid,
    mode: z.enum(WORKLOAD_REPORT_MODES),
    sync: z
      .object({ id: uuid, page: z.number().int().min(1).max(WORKLOAD_REPORT_LIMITS.pages), last: z.boolean() })
      .optional(),
    bundleRevision: revision.nullable(),
    observedAt: timestamp,
    workloads: z.array(RunningWorkloadSchema).max(WORKLOAD_REPORT_LIMITS.workloads),
    removed: z.array(WorkloadRefSchema).max(WORKLOAD_REPORT_LIMITS.removed).default([]),
  })
  .superRefine((r, ctx) => {
    const issue = (path: Array<string | number>, message: string) =>
      ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
    if (r.mode === 'FULL' && r.sync === undefined) issue(['sync'], 'is required for a FULL report');
    if (r.mode === 'DELTA' && r.sync !== undefined) issue(['sync'], 'is only for FULL reports');
    if (r.mode === 'FULL' && r.removed.length > 0)
      issue(['removed'], 'is only for DELTA reports: a completed FULL sync removes whatever it does not name');
    const seen = new Map<string, number>();
    r.workloads.forEach((w, i) => {
      const key = workloadKey(w);
      const earlier = seen.get(key);
      if (earlier === undefined) seen.set(key, i);
      else issue(['workloads', i, 'name'], `repeats workloads[${earlier}] (${key})`);
    });
    const removed = new Set<string>();
    r.removed.forEach((w, i) => {
      const key = workloadKey(w);
      if (seen.has(key))
        issue(['removed', i, 'name'], `names workloads[${seen.get(key)}] (${key}), reported in the same report`);
      else if (removed.has(key)) issue(['removed', i, 'name'], `repeats an earlier removal (${key})`);
      removed.add(key);
    });
  });

export const validateWorkloadReport = (value: unknown): Validated<WorkloadReport> =>
  validateWith(WorkloadReportSchema, value);

/**
 * The API's answer to an accepted report (200 when applied or staged, also for a re-sent one).
 * - `duplicate`: this reportId was applied before; nothing was written.
 * - `staged`: a FULL page that is not the last one: held until the sync's last page arrives.
 * - `unknownSnapshots`: indexes of `workloads` sent without `snapshot` whose `snapshotHash` the
 *   tenant holds no snapshot for: the state is stored, but simulatePolicy cannot re-evaluate them
 *   until the agent sends the snapshot again.
 */
export interface WorkloadReportResult {
  readonly accepted: true;
  readonly duplicate: boolean;
  readonly staged: boolean;
  readonly unknownSnapshots: readonly number[];
}
