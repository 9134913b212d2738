/**
 * What kube-apiserver's discovery would tell kubectl about a kind: its resource name,
 * whether it is namespaced, and how kubectl prints it (`deployment.apps/web`). There is no
 * API server to ask, so the kinds a workload manifest holds are listed; any other kind is
 * taken as namespaced with the usual plural.
 */
export interface ResourceInfo {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** Plural resource name, as in request.resource. */
  readonly resource: string;
  readonly namespaced: boolean;
  /**
   * Whether the agent's ValidatingWebhookConfiguration (deploy/helm/portcullis-agent/
   * templates/webhook.yaml) matches this resource: kube-apiserver sends it no others.
   */
  readonly matchedByWebhook: boolean;
}

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'APIService',
  'RuntimeClass',
  'CSIDriver',
  'VolumeAttachment',
]);

/** `group/resource` the chart's webhook rules name (CREATE and UPDATE). */
const WEBHOOK_RESOURCES = new Set([
  '/pods',
  '/replicationcontrollers',
  '/podtemplates',
  'apps/deployments',
  'apps/statefulsets',
  'apps/daemonsets',
  'apps/replicasets',
  'batch/jobs',
  'batch/cronjobs',
  'networking.k8s.io/ingresses',
]);

const IRREGULAR_PLURALS: Readonly<Record<string, string>> = {
  Endpoints: 'endpoints',
  PodSecurityPolicy: 'podsecuritypolicies',
};

function plural(kind: string): string {
  const irregular = IRREGULAR_PLURALS[kind];
  if (irregular) return irregular;
  const lower = kind.toLowerCase();
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${lower}es`;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

export function resourceOf(apiVersion: string, kind: string): ResourceInfo {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const resource = plural(kind);
  return {
    group,
    version,
    kind,
    resource,
    namespaced: !CLUSTER_SCOPED.has(kind),
    matchedByWebhook: WEBHOOK_RESOURCES.has(`${group}/${resource}`),
  };
}

/** kubectl's name for an object: `deployment.apps/web`, `pod/web-0`. */
export function kubectlName(r: ResourceInfo, name: string): string {
  return `${r.kind.toLowerCase()}${r.group ? `.${r.group}` : ''}/${name}`;
}

/** kubectl's name in `delete` lines and API errors: `deployment.apps "web"`, `pod "web-0"`. */
export function quotedName(r: ResourceInfo, name: string): string {
  return `${r.kind.toLowerCase()}${r.group ? `.${r.group}` : ''} "${name}"`;
}
