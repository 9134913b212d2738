import type { NameSource } from './names';

/**
 * What kube-apiserver does to an object before its validating webhooks see it: the
 * API's defaulting (SetDefaults_* of core/v1, apps/v1, batch/v1) and, for Pods, the
 * admission plugins every cluster runs (ServiceAccount, Priority,
 * DefaultTolerationSeconds). Only fields a webhook might read are defaulted; the input
 * is never modified.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function setDefault(o: Obj, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null) o[key] = value;
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** An image without a tag, or tagged latest, is pulled Always; otherwise IfNotPresent. */
function pullPolicy(image: unknown): string {
  if (typeof image !== 'string') return 'IfNotPresent';
  if (image.includes('@')) return 'IfNotPresent';
  const last = image.slice(image.lastIndexOf('/') + 1);
  const colon = last.lastIndexOf(':');
  return colon < 0 || last.slice(colon + 1) === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainers(list: unknown): void {
  if (!Array.isArray(list)) return;
  for (const c of list) {
    if (!isObj(c)) continue;
    setDefault(c, 'terminationMessagePath', '/dev/termination-log');
    setDefault(c, 'terminationMessagePolicy', 'File');
    setDefault(c, 'imagePullPolicy', pullPolicy(c['image']));
    setDefault(c, 'resources', {});
    if (Array.isArray(c['ports'])) for (const p of c['ports']) if (isObj(p)) setDefault(p, 'protocol', 'TCP');
  }
}

/** SetDefaults_PodSpec and the containers' defaults. */
export function defaultPodSpec(spec: unknown, restartPolicy = 'Always'): void {
  if (!isObj(spec)) return;
  setDefault(spec, 'restartPolicy', restartPolicy);
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'schedulerName', 'default-scheduler');
  setDefault(spec, 'enableServiceLinks', true);
  for (const key of ['containers', 'initContainers', 'ephemeralContainers']) defaultContainers(spec[key]);
}

function podTemplateSpec(spec: Obj): Obj | null {
  const template = spec['template'];
  return isObj(template) ? template : null;
}

/** The API's defaults for the kinds whose pods `admit` follows; other kinds are left as written. */
export function applyApiDefaults(object: Obj): void {
  const spec = object['spec'];
  if (!isObj(spec)) return;
  switch (object['kind']) {
    case 'Pod':
      defaultPodSpec(spec);
      return;
    case 'Deployment':
      setDefault(spec, 'replicas', 1);
      setDefault(spec, 'strategy', {
        type: 'RollingUpdate',
        rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' },
      });
      setDefault(spec, 'revisionHistoryLimit', 10);
      setDefault(spec, 'progressDeadlineSeconds', 600);
      break;
    case 'ReplicaSet':
    case 'ReplicationController':
      setDefault(spec, 'replicas', 1);
      break;
    case 'StatefulSet':
      setDefault(spec, 'replicas', 1);
      setDefault(spec, 'podManagementPolicy', 'OrderedReady');
      setDefault(spec, 'updateStrategy', { type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
      setDefault(spec, 'revisionHistoryLimit', 10);
      setDefault(spec, 'persistentVolumeClaimRetentionPolicy', { whenDeleted: 'Retain', whenScaled: 'Retain' });
      break;
    case 'DaemonSet':
      setDefault(spec, 'updateStrategy', { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
      setDefault(spec, 'revisionHistoryLimit', 10);
      break;
    case 'Job':
      if (spec['parallelism'] === undefined && spec['completions'] === undefined) {
        spec['parallelism'] = 1;
        spec['completions'] = 1;
      }
      setDefault(spec, 'parallelism', 1);
      setDefault(spec, 'backoffLimit', 6);
      setDefault(spec, 'completionMode', 'NonIndexed');
      setDefault(spec, 'suspend', false);
      break;
    case 'CronJob': {
      setDefault(spec, 'concurrencyPolicy', 'Allow');
      setDefault(spec, 'suspend', false);
      setDefault(spec, 'successfulJobsHistoryLimit', 3);
      setDefault(spec, 'failedJobsHistoryLimit', 1);
      const jobTemplate = spec['jobTemplate'];
      const jobSpec = isObj(jobTemplate) ? jobTemplate['spec'] : undefined;
      const template = isObj(jobSpec) ? podTemplateSpec(jobSpec) : null;
      if (template) defaultPodSpec(template['spec']);
      return;
    }
    default:
      return;
  }
  const template = podTemplateSpec(spec);
  if (template) defaultPodSpec(template['spec']);
}

/** The Job API's selector: labels tying the Job's pods to it by the Job's uid (generateSelector). */
export function jobSelectorLabels(job: Obj): Record<string, string> {
  const meta = job['metadata'] as { name: string; uid: string };
  return {
    'batch.kubernetes.io/controller-uid': meta.uid,
    'batch.kubernetes.io/job-name': meta.name,
    'controller-uid': meta.uid,
    'job-name': meta.name,
  };
}

/** Job creation adds its selector and the matching labels to the pod template (manualSelector unset). */
export function applyJobSelector(job: Obj): void {
  const spec = job['spec'];
  if (!isObj(spec) || spec['manualSelector'] === true) return;
  const labels = jobSelectorLabels(job);
  const template = podTemplateSpec(spec);
  if (template) {
    const meta = isObj(template['metadata']) ? template['metadata'] : (template['metadata'] = {});
    meta['labels'] = { ...(isObj(meta['labels']) ? meta['labels'] : {}), ...labels };
  }
  spec['selector'] = {
    matchLabels: { 'batch.kubernetes.io/controller-uid': labels['batch.kubernetes.io/controller-uid'] },
  };
}

const SERVICE_ACCOUNT_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The ServiceAccount admission plugin: serviceAccountName defaults to "default", and
 * unless automountServiceAccountToken is false, a projected volume kube-api-access-xxxxx
 * (bound token, the cluster CA, the namespace) is added and mounted read-only in every
 * container and init container. The Priority and DefaultTolerationSeconds plugins add
 * priority 0 and 300 s tolerations of not-ready and unreachable nodes.
 */
export function applyPodAdmissionPlugins(pod: Obj, names: NameSource): void {
  const spec = pod['spec'];
  if (!isObj(spec)) return;
  setDefault(spec, 'serviceAccountName', 'default');
  setDefault(spec, 'serviceAccount', spec['serviceAccountName']);
  if (spec['automountServiceAccountToken'] !== false) {
    const volumes = Array.isArray(spec['volumes']) ? (spec['volumes'] as unknown[]) : (spec['volumes'] = []);
    const already = volumes.some(
      (v) => isObj(v) && typeof v['name'] === 'string' && v['name'].startsWith('kube-api-access-'),
    );
    if (!already) {
      const name = `kube-api-access-${names.suffix()}`;
      volumes.push({
        name,
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            {
              downwardAPI: {
                items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
              },
            },
          ],
        },
      });
      for (const key of ['containers', 'initContainers']) {
        const list = spec[key];
        if (!Array.isArray(list)) continue;
        for (const c of list) {
          if (!isObj(c)) continue;
          const mounts = Array.isArray(c['volumeMounts']) ? (c['volumeMounts'] as unknown[]) : (c['volumeMounts'] = []);
          if (!mounts.some((m) => isObj(m) && m['mountPath'] === SERVICE_ACCOUNT_MOUNT))
            mounts.push({ name, readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT });
        }
      }
    }
  }
  setDefault(spec, 'priority', 0);
  setDefault(spec, 'preemptionPolicy', 'PreemptLowerPriority');
  const tolerations = Array.isArray(spec['tolerations'])
    ? (spec['tolerations'] as unknown[])
    : (spec['tolerations'] = []);
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    if (!tolerations.some((t) => isObj(t) && t['key'] === key))
      tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
  }
  pod['status'] = { phase: 'Pending', qosClass: qosClass(spec) };
}

/** The pod's QoS class, from its containers' requests and limits (limits default the requests). */
function qosClass(spec: Obj): string {
  const containers = [
    ...(Array.isArray(spec['containers']) ? spec['containers'] : []),
    ...(Array.isArray(spec['initContainers']) ? spec['initContainers'] : []),
  ].filter(isObj);
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const res = isObj(c['resources']) ? c['resources'] : {};
    const limits = isObj(res['limits']) ? res['limits'] : {};
    const requests = { ...limits, ...(isObj(res['requests']) ? res['requests'] : {}) };
    if (Object.keys(limits).length || Object.keys(requests).length) any = true;
    for (const r of ['cpu', 'memory'])
      if (limits[r] === undefined || String(limits[r]) !== String(requests[r])) guaranteed = false;
  }
  return guaranteed ? 'Guaranteed' : any ? 'Burstable' : 'BestEffort';
}
