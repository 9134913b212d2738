import { validateAgainst } from './params';
import type { ParamValidation, PolicyType, RuleConfig, RuleDefinition } from '../types';
import {
  apparmorProfile,
  capabilities,
  hostNamespaces,
  hostPathVolumes,
  hostPorts,
  hostProbes,
  privilegedContainer,
  privilegeEscalation,
  procMount,
  PSS_BASELINE_ADD,
  RESTRICTED_VOLUMES,
  seccompProfile,
  selinuxOptions,
  sysctls,
  volumeTypes,
  windowsHostProcess,
} from './pod-security';
import type { RuleImpl } from './rule';
import {
  automountServiceAccountToken,
  defaultNamespace,
  ingressHttps,
  readOnlyRootFilesystem,
  resourceLimits,
  runAsNonRoot,
  trustedRegistries,
} from './workload-hygiene';
import { vulnerabilityAssessmentRequired, vulnerabilityBlockedCves, vulnerabilitySeverity } from './vulnerability';

/** Every rule Portcullis enforces; ids are contracts (DESIGN.md §4). */
export const RULES: readonly RuleImpl[] = [
  resourceLimits,
  privilegedContainer,
  privilegeEscalation,
  capabilities,
  runAsNonRoot,
  automountServiceAccountToken,
  defaultNamespace,
  hostNamespaces,
  trustedRegistries,
  ingressHttps,
  readOnlyRootFilesystem,
  hostPorts,
  hostPathVolumes,
  seccompProfile,
  apparmorProfile,
  selinuxOptions,
  procMount,
  sysctls,
  volumeTypes,
  windowsHostProcess,
  hostProbes,
  vulnerabilitySeverity,
  vulnerabilityBlockedCves,
  vulnerabilityAssessmentRequired,
];

const BY_ID = new Map(RULES.map((r) => [r.definition.id, r]));

export const RULE_CATALOG: readonly RuleDefinition[] = RULES.map((r) => r.definition);

export function findRule(id: string): RuleDefinition | undefined {
  return BY_ID.get(id)?.definition;
}

export function ruleImpl(id: string): RuleImpl | undefined {
  return BY_ID.get(id);
}

export function validateRuleParams(ruleId: string, params: unknown): ParamValidation {
  const impl = BY_ID.get(ruleId);
  if (!impl) return { ok: false, errors: [{ rule: ruleId, param: '', message: `unknown rule "${ruleId}"` }] };
  return validateAgainst(ruleId, impl.definition.parameters, params, impl.refine);
}

function withDefaults(id: string, params: Record<string, unknown> = {}): RuleConfig {
  const v = validateRuleParams(id, params);
  if (!v.ok) throw new Error(`built-in configuration of ${id} is invalid: ${v.errors[0]!.message}`);
  return { id, params: v.params };
}

/** The rules a tenant's default policy of this type enables, with their defaults. */
export function defaultRuleConfigs(type: PolicyType): readonly RuleConfig[] {
  return RULES.filter((r) => r.definition.policyType === type && r.definition.defaultEnabled).map((r) =>
    withDefaults(r.definition.id),
  );
}

export const PRESET_IDS = ['pss-baseline', 'pss-restricted'] as const;
export type PresetId = (typeof PRESET_IDS)[number];

const BASELINE: readonly RuleConfig[] = [
  withDefaults('windows-host-process'),
  withDefaults('host-namespaces'),
  withDefaults('privileged-container'),
  withDefaults('capabilities', { requiredDrop: [], allowedAdd: PSS_BASELINE_ADD }),
  withDefaults('host-path-volumes'),
  withDefaults('host-ports'),
  withDefaults('apparmor-profile'),
  withDefaults('selinux-options'),
  withDefaults('proc-mount', { allowUnmaskedWithUserNamespaces: true }),
  withDefaults('seccomp-profile', { requireProfile: false }),
  withDefaults('sysctls'),
  withDefaults('host-probes'),
];

const RESTRICTED: readonly RuleConfig[] = [
  ...BASELINE.filter((r) => !['capabilities', 'proc-mount', 'seccomp-profile'].includes(r.id)),
  withDefaults('capabilities', { requiredDrop: ['ALL'], allowedAdd: ['NET_BIND_SERVICE'] }),
  withDefaults('proc-mount', { allowUnmaskedWithUserNamespaces: false }),
  withDefaults('seccomp-profile', { requireProfile: true }),
  withDefaults('volume-types', { allowedTypes: RESTRICTED_VOLUMES }),
  withDefaults('privilege-escalation'),
  withDefaults('run-as-non-root', { requireRunAsNonRoot: true }),
];

/** A Pod Security Standards level as rules with that level's parameters. */
export function expandPreset(id: PresetId): readonly RuleConfig[] {
  return id === 'pss-baseline' ? BASELINE : RESTRICTED;
}
