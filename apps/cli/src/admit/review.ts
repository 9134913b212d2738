import { createHash } from 'node:crypto';
import type { ResourceInfo } from './resources';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE';

/** authentication.k8s.io UserInfo, as kube-apiserver puts it in request.userInfo. */
export interface UserInfo {
  readonly username: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/**
 * What a kubeadm cluster's admin kubeconfig authenticates as (client certificate
 * CN=kubernetes-admin, O=kubeadm:cluster-admins since Kubernetes 1.29).
 */
export const KUBERNETES_ADMIN: UserInfo = {
  username: 'kubernetes-admin',
  groups: ['kubeadm:cluster-admins', 'system:authenticated'],
};

/**
 * The user `kubectl --as <user> --as-group <group>` makes kube-apiserver see: impersonation
 * adds system:authenticated, and a service account's username its two service-account groups.
 */
export function impersonatedUser(username: string, groups: readonly string[]): UserInfo {
  const out = [...groups];
  const sa = /^system:serviceaccount:([^:]+):[^:]+$/.exec(username);
  if (sa)
    for (const g of ['system:serviceaccounts', `system:serviceaccounts:${sa[1]}`]) if (!out.includes(g)) out.push(g);
  if (username !== 'system:anonymous' && !out.includes('system:authenticated')) out.push('system:authenticated');
  return { username, groups: out };
}

/** A stable UUID-shaped id derived from text: the same controller has the same uid on every run. */
export function stableUid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * kube-controller-manager's controllers each act with their own service account
 * (--use-service-account-credentials, the kubeadm default) through a bound token.
 */
export function controllerUser(controller: string): UserInfo {
  const sa = `system:serviceaccount:kube-system:${controller}`;
  return {
    username: sa,
    uid: stableUid(sa),
    groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
    extra: { 'authentication.kubernetes.io/credential-id': [`JTI=${stableUid(`${sa}/token`)}`] },
  };
}

export interface ReviewRequestInput {
  readonly uid: string;
  readonly resource: ResourceInfo;
  readonly operation: Operation;
  /** request.name: empty for a CREATE whose object has only generateName. */
  readonly name: string;
  readonly namespace?: string;
  readonly user: UserInfo;
  /** The object after defaulting and admission plugins (null for DELETE). */
  readonly object: Record<string, unknown> | null;
  readonly oldObject: Record<string, unknown> | null;
  readonly dryRun: boolean;
  /** kubectl's field manager; controllers send none. */
  readonly fieldManager?: string;
}

const OPTIONS_KIND: Readonly<Record<Operation, string>> = {
  CREATE: 'CreateOptions',
  UPDATE: 'UpdateOptions',
  DELETE: 'DeleteOptions',
};

/**
 * An admission.k8s.io/v1 AdmissionReview as kube-apiserver POSTs it to a validating
 * webhook, fields in its order: kind and resource (and the same as requestKind /
 * requestResource, matchPolicy Equivalent with no conversion), name (omitted when
 * empty), namespace (omitted for cluster-scoped objects), operation, userInfo, object and
 * oldObject (null when absent), dryRun, and the operation's options.
 */
export function admissionReview(r: ReviewRequestInput): Record<string, unknown> {
  const kind = { group: r.resource.group, version: r.resource.version, kind: r.resource.kind };
  const resource = { group: r.resource.group, version: r.resource.version, resource: r.resource.resource };
  const options: Record<string, unknown> = { kind: OPTIONS_KIND[r.operation], apiVersion: 'meta.k8s.io/v1' };
  if (r.dryRun) options['dryRun'] = ['All'];
  if (r.operation === 'DELETE') options['propagationPolicy'] = 'Background';
  else if (r.fieldManager) options['fieldManager'] = r.fieldManager;
  return {
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    request: {
      uid: r.uid,
      kind,
      resource,
      requestKind: kind,
      requestResource: resource,
      ...(r.name ? { name: r.name } : {}),
      ...(r.namespace ? { namespace: r.namespace } : {}),
      operation: r.operation,
      userInfo: {
        username: r.user.username,
        ...(r.user.uid ? { uid: r.user.uid } : {}),
        groups: [...r.user.groups],
        ...(r.user.extra ? { extra: r.user.extra } : {}),
      },
      object: r.object,
      oldObject: r.oldObject,
      dryRun: r.dryRun,
      options,
    },
  };
}
