import { z } from 'zod';
import { checkAdmissionEventFast } from './admission-event-fast';
import {
  ADMISSION_DECISIONS,
  ADMISSION_OPERATIONS,
  EVENT_LIMITS as L,
  POLICY_ACTIONS,
  SNAPSHOT_HASH,
  eventRuleIssues,
  type AdmissionEvent,
  type Finding,
} from './admission-event-model';
import {
  API_VERSION,
  KIND,
  RULE_ID,
  SUB_RESOURCE,
  namespaceName,
  plainText,
  revision,
  text,
  timestamp,
  uuid,
} from './primitives';
import { toErrors, type Validated } from './result';

export const FindingSchema: z.ZodType<Finding, z.ZodTypeDef, unknown> = z.object({
  policyId: text(L.policyId),
  policyName: text(L.policyName),
  action: z.enum(POLICY_ACTIONS),
  ruleId: z.string().regex(RULE_ID, 'is not a rule id'),
  container: text(L.container).optional(),
  path: plainText(L.path),
  message: text(L.message),
  exempted: z.boolean(),
  exemptionId: text(L.exemptionId).optional(),
  reason: plainText(L.reason).optional(),
  image: text(L.image).optional(),
});

const kind = z.string().regex(KIND, 'is not a Kubernetes kind');

/** The specification of an event (field documentation: AdmissionEvent in admission-event-model.ts). */
export const AdmissionEventSchema: z.ZodType<AdmissionEvent, z.ZodTypeDef, unknown> = z
  .object({
    eventId: uuid,
    occurredAt: timestamp,
    operation: z.enum(ADMISSION_OPERATIONS),
    subResource: z
      .string()
      .regex(SUB_RESOURCE, 'is not a subresource name (lowercase, e.g. ephemeralcontainers)')
      .optional(),
    dryRun: z.boolean(),
    kind,
    apiVersion: z.string().max(L.apiVersion).regex(API_VERSION, 'is not a Kubernetes apiVersion'),
    namespace: namespaceName.optional(),
    name: plainText(L.name),
    uid: text(L.uid).optional(),
    requestUid: text(L.uid).optional(),
    owner: z.object({ kind, name: text(L.name) }),
    requestingUser: z.object({ username: text(L.username), groups: z.array(text(L.group)).max(L.groups).optional() }),
    images: z.array(text(L.image)).max(L.images),
    decision: z.enum(ADMISSION_DECISIONS),
    bundleRevision: revision.nullable(),
    findings: z.array(FindingSchema).max(L.findings),
    snapshot: z.record(z.unknown()).optional(),
    snapshotHash: z.string().regex(SNAPSHOT_HASH, 'is not a snapshot id (64 lowercase hex digits)').optional(),
    clusterId: uuid.optional(),
  })
  .superRefine((e, ctx) => {
    for (const issue of eventRuleIssues(e))
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: issue.path, message: issue.message });
  });

/**
 * The hot path checks by hand (same rules, no zod); only a rejected event goes through
 * zod, for errors that name the path. If the two ever disagree, zod's answer stands.
 */
export function validateAdmissionEvent(value: unknown): Validated<AdmissionEvent> {
  const fast = checkAdmissionEventFast(value);
  if (fast) return { ok: true, value: fast };
  const r = AdmissionEventSchema.safeParse(value);
  return r.success ? { ok: true, value: r.data } : { ok: false, errors: toErrors(r.error.issues) };
}
