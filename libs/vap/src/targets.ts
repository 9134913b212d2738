// What a compiled policy matches and where it finds the pod spec: the same resources the
// agent's webhook registers (deploy/helm/portcullis-agent), the same pod-template routes as
// the engine (POD_TEMPLATE_ROUTES), as CEL over the admission request's `object`.
import { POD_TEMPLATE_ROUTES } from '@portcullis/policy-engine';
import { present, str, strList } from './cel';

export type TargetKind = 'pod' | 'ingress';

const CREATE_UPDATE = ['CREATE', 'UPDATE'];

/** Pods (and `kubectl debug`'s ephemeralcontainers subresource) and every workload kind that holds a pod template. */
export const POD_RESOURCE_RULES: ReadonlyArray<Record<string, unknown>> = [
  {
    apiGroups: [''],
    apiVersions: ['v1'],
    operations: CREATE_UPDATE,
    resources: ['pods', 'replicationcontrollers', 'podtemplates'],
    scope: 'Namespaced',
  },
  // the review's object is the whole Pod with its ephemeralContainers, evaluated as any Pod
  {
    apiGroups: [''],
    apiVersions: ['v1'],
    operations: ['UPDATE'],
    resources: ['pods/ephemeralcontainers'],
    scope: 'Namespaced',
  },
  {
    apiGroups: ['apps'],
    apiVersions: ['v1'],
    operations: CREATE_UPDATE,
    resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'],
    scope: 'Namespaced',
  },
  {
    apiGroups: ['batch'],
    apiVersions: ['v1'],
    operations: CREATE_UPDATE,
    resources: ['jobs', 'cronjobs'],
    scope: 'Namespaced',
  },
];

export const INGRESS_RESOURCE_RULES: ReadonlyArray<Record<string, unknown>> = [
  {
    apiGroups: ['networking.k8s.io'],
    apiVersions: ['v1'],
    operations: CREATE_UPDATE,
    resources: ['ingresses'],
    scope: 'Namespaced',
  },
];

const copyRule = (r: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.isArray(v) ? [...(v as unknown[])] : v]));

export function resourceRules(targets: readonly TargetKind[]): Array<Record<string, unknown>> {
  return [
    ...(targets.includes('pod') ? POD_RESOURCE_RULES : []),
    ...(targets.includes('ingress') ? INGRESS_RESOURCE_RULES : []),
  ].map((r) => copyRule(r));
}

/** `object.a.b` for a route ['a', 'b'] (the engine's route to the pod template). */
const routeExpr = (route: readonly string[]): string => ['object', ...route].join('.');

const KINDS = Object.keys(POD_TEMPLATE_ROUTES);

/** The pod spec of the object, wherever its kind keeps it (only evaluated when `hasPodSpec` holds). */
export const podSpecExpr = (): string => (POD_SPEC ??= buildPodSpecExpr());
let POD_SPEC: string | undefined;
function buildPodSpecExpr(): string {
  // group kinds by route so the expression names each route once
  const byRoute = new Map<string, string[]>();
  for (const kind of KINDS) {
    const key = routeExpr([...POD_TEMPLATE_ROUTES[kind]!, 'spec']);
    byRoute.set(key, [...(byRoute.get(key) ?? []), kind]);
  }
  const entries = [...byRoute.entries()];
  let expr = entries[entries.length - 1]![0];
  for (let i = entries.length - 2; i >= 0; i--) {
    const [path, kinds] = entries[i]!;
    expr = `${kinds.length === 1 ? `object.kind == ${str(kinds[0]!)}` : `object.kind in ${strList(kinds)}`} ? ${path} : ${expr}`;
  }
  return expr;
}

/** The pod template's metadata holds annotations: `object.metadata` for a Pod, the template's otherwise. */
export function podMetaPresent(kind: string): { base: string; present: string } {
  const route = POD_TEMPLATE_ROUTES[kind]!;
  const base = routeExpr([...route, 'metadata']);
  return {
    base,
    present: route.length === 0 ? 'has(object.metadata)' : present('object', [...route, 'metadata'].join('.')),
  };
}

/**
 * Whether the object holds a pod spec where its kind keeps it. The engine cannot evaluate an
 * object without one (and allows it); the policy does not apply to it either. Ingresses and
 * kinds without a pod template pass.
 */
export const hasPodSpecExpr = (): string => (HAS_POD_SPEC ??= buildHasPodSpecExpr());
let HAS_POD_SPEC: string | undefined;
function buildHasPodSpecExpr(): string {
  const byRoute = new Map<string, string[]>();
  for (const kind of KINDS) {
    const key = [...POD_TEMPLATE_ROUTES[kind]!, 'spec'].join('.');
    byRoute.set(key, [...(byRoute.get(key) ?? []), kind]);
  }
  const clauses = [...byRoute.entries()].map(
    ([path, kinds]) =>
      `(${kinds.length === 1 ? `object.kind == ${str(kinds[0]!)}` : `object.kind in ${strList(kinds)}`} && !(${present('object', path)}))`,
  );
  return `!${clauses.length === 1 ? clauses[0] : `(${clauses.join(' || ')})`}`;
}

/**
 * The namespace the object is admitted into. kube-apiserver fills the object's namespace from
 * the request and refuses a mismatch, so it is the engine's namespace too. `request.namespace`
 * rather than `object.metadata.namespace`: Kubernetes escapes object fields named like CEL
 * reserved words (`namespace` is one) as `__namespace__`.
 */
export const NAMESPACE_EXPR = 'request.namespace';

/** The object's name as the engine reads it: name, else generateName, else "". */
export const NAME_EXPR =
  "(has(object.metadata.name) ? object.metadata.name : (has(object.metadata.generateName) ? object.metadata.generateName : ''))";

/**
 * The workload the object belongs to, as [kind, name], resolved as the agent does
 * (libs/admission owner.ts): the controller ownerReference; a ReplicaSet carrying the
 * pod-template-hash is a Deployment's, a Job named `<name>-<8 to 10 digits>` a CronJob's;
 * objects without a controller own themselves.
 */
export function ownerExpr(): string {
  const hash =
    "(has(object.metadata.labels) && 'pod-template-hash' in object.metadata.labels ? object.metadata.labels['pod-template-hash'] : '')";
  const selfName =
    "(has(object.metadata.name) && object.metadata.name != '' ? object.metadata.name : (has(object.metadata.generateName) && object.metadata.generateName != '' ? object.metadata.generateName : '(unnamed)'))";
  const ctl = 'ctl[0]';
  return `[has(object.metadata.ownerReferences) ? object.metadata.ownerReferences.filter(r, has(r.controller) && r.controller == true) : []].map(ctl, size(ctl) == 0 || !has(${ctl}.kind) || !has(${ctl}.name) || ${ctl}.name == '' ? [object.kind, ${selfName}] : (${ctl}.kind == 'ReplicaSet' && ${hash} != '' && ${ctl}.name.endsWith('-' + ${hash}) ? ['Deployment', ${ctl}.name.substring(0, size(${ctl}.name) - size(${hash}) - 1)] : (${ctl}.kind == 'Job' && ${ctl}.name.matches(${str('^[^\\n\\r\\x{2028}\\x{2029}]+-[0-9]{8,10}$')}) ? ['CronJob', ${ctl}.name.substring(0, ${ctl}.name.lastIndexOf('-'))] : [${ctl}.kind, ${ctl}.name])))[0]`;
}
