import { compileRules, inspectObject, runRules, validateRuleParams, type RuleFinding } from '@portcullis/policy-engine';

export type Pod = Record<string, unknown>;

/** Wraps a pod spec in each workload kind Kubernetes has, at the path where that kind keeps it. */
export const WORKLOADS: Record<string, (spec: Pod, meta?: Record<string, unknown>) => Record<string, unknown>> = {
  Pod: (spec, meta = {}) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'apps', ...meta },
    spec,
  }),
  Deployment: (spec, meta = {}) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', namespace: 'apps' },
    spec: { template: { metadata: meta, spec } },
  }),
  StatefulSet: (spec, meta = {}) => ({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 's', namespace: 'apps' },
    spec: { template: { metadata: meta, spec } },
  }),
  DaemonSet: (spec, meta = {}) => ({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'ds', namespace: 'apps' },
    spec: { template: { metadata: meta, spec } },
  }),
  ReplicaSet: (spec, meta = {}) => ({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'rs', namespace: 'apps' },
    spec: { template: { metadata: meta, spec } },
  }),
  ReplicationController: (spec, meta = {}) => ({
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: { name: 'rc', namespace: 'apps' },
    spec: { template: { metadata: meta, spec } },
  }),
  Job: (spec, meta = {}) => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'j', namespace: 'apps' },
    spec: { template: { metadata: meta, spec } },
  }),
  CronJob: (spec, meta = {}) => ({
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'cj', namespace: 'apps' },
    spec: { schedule: '* * * * *', jobTemplate: { spec: { template: { metadata: meta, spec } } } },
  }),
  PodTemplate: (spec, meta = {}) => ({
    apiVersion: 'v1',
    kind: 'PodTemplate',
    metadata: { name: 'pt', namespace: 'apps' },
    template: { metadata: meta, spec },
  }),
};

export const POD_PATH: Record<string, string> = {
  Pod: 'spec',
  Deployment: 'spec.template.spec',
  StatefulSet: 'spec.template.spec',
  DaemonSet: 'spec.template.spec',
  ReplicaSet: 'spec.template.spec',
  ReplicationController: 'spec.template.spec',
  Job: 'spec.template.spec',
  CronJob: 'spec.jobTemplate.spec.template.spec',
  PodTemplate: 'template.spec',
};

/** A container that passes every misconfiguration rule with default parameters. */
export function hardened(name = 'app', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    image: 'registry.example.com/team/app:1.2.3',
    resources: { limits: { cpu: '500m', memory: '256Mi' } },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    ...extra,
  };
}

export function findings(
  ruleId: string,
  object: unknown,
  params: Record<string, unknown> = {},
  now = new Date(),
): RuleFinding[] {
  const v = validateRuleParams(ruleId, params);
  if (!v.ok) throw new Error(v.errors[0]!.message);
  return runRules(inspectObject(object, 'default'), compileRules([{ id: ruleId, params: v.params }]), {
    defaultNamespace: 'default',
    now,
  });
}

/** Puts a container under each of the three container lists. */
export const CONTAINER_TYPES = ['containers', 'initContainers', 'ephemeralContainers'] as const;
export function podWith(
  type: (typeof CONTAINER_TYPES)[number],
  container: Record<string, unknown>,
  podExtra: Pod = {},
): Pod {
  const base: Pod = { containers: [hardened('main')], ...podExtra };
  if (type === 'containers') return { ...base, containers: [hardened('main'), container] };
  return { ...base, [type]: [container] };
}
