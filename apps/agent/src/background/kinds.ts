import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  NetworkingV1Api,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';

/** The kinds the background audit lists and watches: exactly those of the chart's read-only ClusterRole. */
export const WATCHED_KINDS = [
  'Pod',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'ReplicationController',
  'Job',
  'CronJob',
  'Ingress',
] as const;
export type WatchedKind = (typeof WATCHED_KINDS)[number];

/** One page of a cluster-wide list, as client-node returns it. */
export interface ListPage {
  readonly items: readonly KubernetesObject[];
  readonly metadata?: { readonly resourceVersion?: string; readonly _continue?: string };
}

export interface ListParams {
  readonly limit: number;
  readonly _continue?: string;
}

export interface KindEndpoint {
  readonly kind: WatchedKind;
  readonly apiVersion: string;
  /** Cluster-wide collection path, for client-node's Watch. */
  readonly path: string;
  /** One page of the cluster-wide list through client-node's typed API. */
  list(params: ListParams): Promise<ListPage>;
}

/** The typed list calls of client-node for every watched kind, with the agent's credentials. */
export function kindEndpoints(kc: KubeConfig): readonly KindEndpoint[] {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const networking = kc.makeApiClient(NetworkingV1Api);
  return [
    { kind: 'Pod', apiVersion: 'v1', path: '/api/v1/pods', list: (p) => core.listPodForAllNamespaces(p) },
    {
      kind: 'ReplicationController',
      apiVersion: 'v1',
      path: '/api/v1/replicationcontrollers',
      list: (p) => core.listReplicationControllerForAllNamespaces(p),
    },
    {
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      path: '/apis/apps/v1/deployments',
      list: (p) => apps.listDeploymentForAllNamespaces(p),
    },
    {
      kind: 'StatefulSet',
      apiVersion: 'apps/v1',
      path: '/apis/apps/v1/statefulsets',
      list: (p) => apps.listStatefulSetForAllNamespaces(p),
    },
    {
      kind: 'DaemonSet',
      apiVersion: 'apps/v1',
      path: '/apis/apps/v1/daemonsets',
      list: (p) => apps.listDaemonSetForAllNamespaces(p),
    },
    {
      kind: 'ReplicaSet',
      apiVersion: 'apps/v1',
      path: '/apis/apps/v1/replicasets',
      list: (p) => apps.listReplicaSetForAllNamespaces(p),
    },
    { kind: 'Job', apiVersion: 'batch/v1', path: '/apis/batch/v1/jobs', list: (p) => batch.listJobForAllNamespaces(p) },
    {
      kind: 'CronJob',
      apiVersion: 'batch/v1',
      path: '/apis/batch/v1/cronjobs',
      list: (p) => batch.listCronJobForAllNamespaces(p),
    },
    {
      kind: 'Ingress',
      apiVersion: 'networking.k8s.io/v1',
      path: '/apis/networking.k8s.io/v1/ingresses',
      list: (p) => networking.listIngressForAllNamespaces(p),
    },
  ];
}
