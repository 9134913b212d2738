import { z } from 'zod';
import { INT4_MAX, count, plainText, revision, text, timestamp, uuid } from './primitives';
import { validateWith, type Validated } from './result';

/** Counters are stored as 32-bit integers (and shown as GraphQL Int); a bigger value is refused, not wrapped. */
const INT32_MAX = INT4_MAX;

/** Bounds of the native-enforcement report: one bundle holds at most so many policies and rules. */
export const NATIVE_LIMITS = {
  policies: 1000,
  unsupported: 100,
  checks: 5000,
  reason: 2000,
  rule: 128,
  what: 500,
  unsupportedReason: 1000,
  metricsError: 500,
} as const;

/** What the agent made of one policy of its bundle in native mode. */
export const NATIVE_POLICY_STATES = ['ENFORCED', 'PARTIAL', 'NOT_COMPILED', 'APPLY_FAILED'] as const;
export type NativePolicyStateName = (typeof NATIVE_POLICY_STATES)[number];

/** kube-apiserver's `enforcement_action` label of apiserver_validating_admission_policy_check_total. */
export const NATIVE_CHECK_ACTIONS = ['deny', 'warn', 'audit'] as const;
export type NativeCheckAction = (typeof NATIVE_CHECK_ACTIONS)[number];

const L = NATIVE_LIMITS;

const NativeUnsupportedSchema = z.object({
  /** The rule that could not be expressed; absent when it is the policy's scope or an exemption. */
  rule: text(L.rule).optional(),
  /** What could not be expressed, e.g. `parameter maxCpuLimit` or `exemption 3 (label selector)`. */
  what: plainText(L.what),
  reason: plainText(L.unsupportedReason),
});

const NativePolicySchema = z.object({
  policyId: uuid,
  state: z.enum(NATIVE_POLICY_STATES),
  /** Why NOT_COMPILED, APPLY_FAILED or PARTIAL. */
  reason: plainText(L.reason).nullable().optional(),
  /** ValidatingAdmissionPolicy + binding objects applied for this policy. */
  objects: count.max(INT32_MAX),
  unsupported: z.array(NativeUnsupportedSchema).max(L.unsupported).optional(),
});

const NativeCheckSchema = z.object({
  policyId: uuid,
  rule: text(L.rule),
  enforcementAction: z.enum(NATIVE_CHECK_ACTIONS),
  /** Cumulative since the API server process started (it resets on restart). */
  count,
});

/** Native enforcement (ValidatingAdmissionPolicy) as the agent last reconciled it; absent in webhook mode. */
export const NativeStatusSchema = z
  .object({
    /** When the agent last reconciled the cluster's ValidatingAdmissionPolicies with its bundle. */
    reconciledAt: timestamp,
    /** The bundle revision the objects in the cluster were compiled from. */
    revision,
    policies: z.array(NativePolicySchema).max(L.policies),
    /**
     * Native denials and warnings counted by kube-apiserver (apiserver_validating_admission_policy_check_total),
     * cumulative as read from the API server the agent reached; null when the metrics could not be read.
     * One entry per policy, rule and action: the agent sums bindings and error types.
     */
    checks: z.array(NativeCheckSchema).max(L.checks).nullable().optional(),
    /** Why the metrics could not be read. */
    metricsError: plainText(L.metricsError).nullable().optional(),
  })
  .superRefine((n, ctx) => {
    // Each policy is reported once and each counter once: two values for one key would make the
    // stored state and the monotonic totals depend on the order of the list.
    const policies = new Map<string, number>();
    n.policies.forEach((p, i) => {
      const key = p.policyId.toLowerCase();
      const first = policies.get(key);
      if (first === undefined) policies.set(key, i);
      else
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['policies', i, 'policyId'],
          message: `repeats policies[${first}].policyId: report each policy once`,
        });
    });
    const checks = new Map<string, number>();
    (n.checks ?? []).forEach((c, i) => {
      const key = `${c.policyId.toLowerCase()}\u0000${c.rule}\u0000${c.enforcementAction}`;
      const first = checks.get(key);
      if (first === undefined) checks.set(key, i);
      else
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['checks', i],
          message: `repeats the policy, rule and enforcementAction of checks[${first}]: sum them into one entry`,
        });
    });
  });

export type NativeStatus = z.infer<typeof NativeStatusSchema>;

/** POST /agent/v1/status: what an agent runs and enforces, and how its event pipeline is doing. */
export const AgentStatusSchema = z.object({
  agentVersion: text(64),
  /** The bundle revision being enforced; null before the first bundle was accepted. */
  appliedRevision: revision.nullable(),
  /** The last bundle or upload failure (e.g. a rejection reason), null or absent when healthy. */
  lastError: plainText(2000).nullable().optional(),
  /** Events waiting in the local spool. */
  spoolDepth: count.max(INT32_MAX),
  /** Events dropped since the agent started because the spool was full: they are missing from the inventory. */
  droppedEvents: count.max(INT32_MAX),
  /** The agent's clock when it sent this: lets operators see skew that would make bundles look expired. */
  reportedAt: timestamp,
  /** Native enforcement state; absent when the cluster is in webhook mode (or the agent predates it). */
  native: NativeStatusSchema.optional(),
});

export type AgentStatus = z.infer<typeof AgentStatusSchema>;

export const validateAgentStatus = (value: unknown): Validated<AgentStatus> => validateWith(AgentStatusSchema, value);
