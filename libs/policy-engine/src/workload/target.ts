import type { ObjectRef } from '../types';

/** A container of the pod spec, with where it sits in the object. */
export interface ContainerView {
  readonly name: string;
  readonly type: 'containers' | 'initContainers' | 'ephemeralContainers';
  /** JSON path of the container, e.g. `spec.template.spec.containers[1]`. */
  readonly path: string;
  readonly spec: Readonly<Record<string, unknown>>;
  /** The container's securityContext ({} when absent). */
  readonly sc: Readonly<Record<string, unknown>>;
  readonly image: string | undefined;
}

/** A Pod, or a workload's pod template, reduced to what the rules read. */
export interface PodTarget {
  readonly status: 'pod';
  readonly ref: ObjectRef;
  /** JSON path of the pod spec: `spec`, `spec.template.spec`, `spec.jobTemplate.spec.template.spec`, `template.spec`. */
  readonly podPath: string;
  readonly pod: Readonly<Record<string, unknown>>;
  /** The pod's securityContext ({} when absent). */
  readonly podSc: Readonly<Record<string, unknown>>;
  /** Annotations of the pod (or of the pod template). */
  readonly podAnnotations: Readonly<Record<string, string>>;
  /** JSON path of the pod's metadata: `metadata`, `spec.template.metadata`... */
  readonly podMetaPath: string;
  readonly containers: readonly ContainerView[];
  /** `spec.os.name: windows`: the Linux-only restricted checks do not apply. */
  readonly windows: boolean;
}

export interface IngressTarget {
  readonly status: 'ingress';
  readonly ref: ObjectRef;
  readonly spec: Readonly<Record<string, unknown>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** A namespaced object of another kind (Service, ConfigMap, a custom resource...): only namespace rules apply to it. */
export interface GenericTarget {
  readonly status: 'generic';
  readonly ref: ObjectRef;
}

/** Nothing to check: a cluster-scoped object or a List. */
export interface NotApplicable {
  readonly status: 'not-applicable';
  readonly ref?: ObjectRef;
  readonly reason: string;
}

/** The object is malformed where the rules would read; `reason` names the field. */
export interface CannotEvaluate {
  readonly status: 'cannot-evaluate';
  readonly ref?: ObjectRef;
  readonly reason: string;
}

export type InspectedObject = PodTarget | IngressTarget | GenericTarget | NotApplicable | CannotEvaluate;
