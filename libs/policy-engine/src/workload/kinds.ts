/** Where each workload kind keeps its pod template (the object holding `metadata` and `spec`); [] = the object itself. */
export const POD_TEMPLATE_ROUTES: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  PodTemplate: ['template'],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

/** The API versions an Ingress has been served under. */
export const INGRESS_API_VERSIONS: ReadonlySet<string> = new Set([
  'networking.k8s.io/v1',
  'networking.k8s.io/v1beta1',
  'extensions/v1beta1',
]);

/**
 * Kinds that live outside namespaces (built-in, plus widespread add-ons): they are never
 * "in the default namespace", whatever namespace a manifest gives them.
 */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'StorageClass',
  'CSIDriver',
  'CSINode',
  'VolumeAttachment',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'APIService',
  'PriorityClass',
  'RuntimeClass',
  'IngressClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'MutatingAdmissionPolicy',
  'MutatingAdmissionPolicyBinding',
  'PodSecurityPolicy',
  'CertificateSigningRequest',
  'ComponentStatus',
  'FlowSchema',
  'PriorityLevelConfiguration',
  'IPAddress',
  'ServiceCIDR',
  'DeviceClass',
  'ResourceSlice',
  'StorageVersionMigration',
  'StorageVersion',
  'VolumeAttributesClass',
  'ClusterTrustBundle',
  'SelfSubjectReview',
  'TokenReview',
  'SubjectAccessReview',
  'SelfSubjectAccessReview',
  'SelfSubjectRulesReview',
  // add-ons whose cluster-wide kinds appear in most manifests: cert-manager, Kyverno, External Secrets, Gatekeeper, Cluster API
  'ClusterIssuer',
  'ClusterPolicy',
  'ClusterPolicyReport',
  'ClusterCleanupPolicy',
  'ClusterSecretStore',
  'ClusterExternalSecret',
  'ConstraintTemplate',
  'GatewayClass',
]);

/** `List` and the typed lists (`PodList`, `ConfigMapList`...) wrap items; callers evaluate the items. */
export const isListKind = (kind: string): boolean => kind === 'List' || (kind.length > 4 && kind.endsWith('List'));
