import { applyApiDefaults, applyJobSelector, applyPodAdmissionPlugins, clone } from './defaults';
import { templateHash, type NameSource } from './names';

/**
 * The controller chain: what kube-controller-manager creates once a workload is stored.
 * Each child is a CREATE made by the controller's own service account, with the names,
 * labels and ownerReferences the controller gives it.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ChainOptions {
  /** Most pods sent per controller: min(replicas, maxPods). */
  readonly maxPods: number;
  /** The node a DaemonSet's one pod is created for. */
  readonly nodeName: string;
  readonly names: NameSource;
  readonly now: Date;
}

export interface ChildObject {
  readonly object: Obj;
  /** The service account of kube-system the request is made as. */
  readonly controller: string;
}

interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

const metaOf = (o: Obj): Meta => o['metadata'] as Meta;
const specOf = (o: Obj): Obj => (isObj(o['spec']) ? o['spec'] : {});

/** Metadata kube-apiserver sets on a CREATE before validating admission (name from generateName included). */
export function stampForCreate(object: Obj, names: NameSource, now: Date): void {
  const meta = isObj(object['metadata']) ? object['metadata'] : (object['metadata'] = {});
  if (!meta['name'] && typeof meta['generateName'] === 'string')
    meta['name'] = `${meta['generateName']}${names.suffix()}`;
  meta['uid'] = names.uid();
  meta['creationTimestamp'] = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  // every kind with a spec that the API versions counts generations from 1, except Pods
  if (object['kind'] !== 'Pod' && isObj(object['spec'])) meta['generation'] = 1;
}

function ownerReference(owner: Obj): Obj {
  const m = metaOf(owner);
  return {
    apiVersion: owner['apiVersion'],
    kind: owner['kind'],
    name: m.name,
    uid: m.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function templateOf(spec: Obj): { metadata: Obj; spec: Obj } {
  const t = isObj(spec['template']) ? clone(spec['template']) : {};
  return { metadata: isObj(t['metadata']) ? t['metadata'] : {}, spec: isObj(t['spec']) ? t['spec'] : {} };
}

/** A pod of `owner` from its template, as the owner's controller creates it. */
function podFrom(
  owner: Obj,
  spec: Obj,
  o: ChainOptions,
  name: { name?: string; generateName?: string },
  extraLabels: Record<string, string> = {},
  extraAnnotations: Record<string, string> = {},
): Obj {
  const template = templateOf(spec);
  const ownerMeta = metaOf(owner);
  const labels = {
    ...(isObj(template.metadata['labels']) ? (template.metadata['labels'] as Record<string, string>) : {}),
    ...extraLabels,
  };
  const annotations = {
    ...(isObj(template.metadata['annotations']) ? (template.metadata['annotations'] as Record<string, string>) : {}),
    ...extraAnnotations,
  };
  const pod: Obj = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...name,
      ...(ownerMeta.namespace ? { namespace: ownerMeta.namespace } : {}),
      labels,
      ...(Object.keys(annotations).length ? { annotations } : {}),
      ownerReferences: [ownerReference(owner)],
    },
    spec: template.spec,
  };
  stampForCreate(pod, o.names, o.now);
  applyApiDefaults(pod);
  applyPodAdmissionPlugins(pod, o.names);
  return pod;
}

const count = (n: unknown, fallback: number, max: number) =>
  Math.max(0, Math.min(typeof n === 'number' && Number.isInteger(n) ? n : fallback, max));

function replicaSetOf(deployment: Obj, o: ChainOptions): Obj {
  const spec = specOf(deployment);
  const meta = metaOf(deployment);
  const template = templateOf(spec);
  const hash = templateHash(spec['template'] ?? {});
  template.metadata['labels'] = {
    ...(isObj(template.metadata['labels']) ? template.metadata['labels'] : {}),
    'pod-template-hash': hash,
  };
  const selector = isObj(spec['selector']) ? clone(spec['selector']) : {};
  selector['matchLabels'] = {
    ...(isObj(selector['matchLabels']) ? selector['matchLabels'] : {}),
    'pod-template-hash': hash,
  };
  const replicas = typeof spec['replicas'] === 'number' ? spec['replicas'] : 1;
  const rs: Obj = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${meta.name}-${hash}`,
      ...(meta.namespace ? { namespace: meta.namespace } : {}),
      labels: template.metadata['labels'],
      annotations: {
        'deployment.kubernetes.io/desired-replicas': String(replicas),
        'deployment.kubernetes.io/max-replicas': String(replicas + 1),
        'deployment.kubernetes.io/revision': '1',
      },
      ownerReferences: [ownerReference(deployment)],
    },
    spec: { replicas, minReadySeconds: spec['minReadySeconds'] ?? 0, selector, template },
  };
  stampForCreate(rs, o.names, o.now);
  applyApiDefaults(rs);
  return rs;
}

/** The Job a CronJob's next scheduled run creates: `<cronjob>-<scheduled time in minutes>`. */
function jobOf(cronJob: Obj, o: ChainOptions): Obj {
  const meta = metaOf(cronJob);
  const jobTemplate = isObj(specOf(cronJob)['jobTemplate']) ? clone(specOf(cronJob)['jobTemplate'] as Obj) : {};
  const tmeta = isObj(jobTemplate['metadata']) ? jobTemplate['metadata'] : {};
  const scheduled = Math.floor(o.now.getTime() / 60_000);
  const job: Obj = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      ...tmeta,
      name: `${meta.name}-${scheduled}`,
      ...(meta.namespace ? { namespace: meta.namespace } : {}),
      annotations: {
        ...(isObj(tmeta['annotations']) ? tmeta['annotations'] : {}),
        'batch.kubernetes.io/cronjob-scheduled-timestamp': new Date(scheduled * 60_000)
          .toISOString()
          .replace(/\.\d{3}Z$/, 'Z'),
      },
      ownerReferences: [ownerReference(cronJob)],
    },
    spec: isObj(jobTemplate['spec']) ? jobTemplate['spec'] : {},
  };
  stampForCreate(job, o.names, o.now);
  applyApiDefaults(job);
  applyJobSelector(job);
  return job;
}

function jobPods(job: Obj, o: ChainOptions): ChildObject[] {
  const spec = specOf(job);
  const name = metaOf(job).name;
  const parallelism = count(spec['parallelism'], 1, Number.MAX_SAFE_INTEGER);
  const completions = typeof spec['completions'] === 'number' ? spec['completions'] : parallelism;
  const n = Math.min(parallelism, completions, o.maxPods);
  const indexed = spec['completionMode'] === 'Indexed';
  return Array.from({ length: Math.max(0, n) }, (_, i) => ({
    controller: 'job-controller',
    object: indexed
      ? podFrom(
          job,
          spec,
          o,
          { generateName: `${name}-${i}-` },
          { 'batch.kubernetes.io/job-completion-index': String(i) },
          { 'batch.kubernetes.io/job-completion-index': String(i) },
        )
      : podFrom(job, spec, o, { generateName: `${name}-` }),
  }));
}

function statefulSetPods(sts: Obj, o: ChainOptions): ChildObject[] {
  const spec = specOf(sts);
  const name = metaOf(sts).name;
  const revision = `${name}-${templateHash(spec['template'] ?? {})}`;
  const claims = Array.isArray(spec['volumeClaimTemplates']) ? spec['volumeClaimTemplates'].filter(isObj) : [];
  return Array.from({ length: count(spec['replicas'], 1, o.maxPods) }, (_, i) => {
    const podName = `${name}-${i}`;
    const pod = podFrom(
      sts,
      spec,
      o,
      { name: podName },
      {
        'apps.kubernetes.io/pod-index': String(i),
        'controller-revision-hash': revision,
        'statefulset.kubernetes.io/pod-name': podName,
      },
    );
    const podSpec = pod['spec'] as Obj;
    podSpec['hostname'] = podName;
    if (typeof spec['serviceName'] === 'string' && spec['serviceName']) podSpec['subdomain'] = spec['serviceName'];
    const volumes = Array.isArray(podSpec['volumes']) ? (podSpec['volumes'] as Obj[]) : (podSpec['volumes'] = []);
    for (const c of claims) {
      const claim = String((c['metadata'] as { name?: unknown } | undefined)?.name ?? '');
      if (claim && !volumes.some((v) => v['name'] === claim))
        volumes.unshift({ name: claim, persistentVolumeClaim: { claimName: `${claim}-${podName}` } });
    }
    return { controller: 'statefulset-controller', object: pod };
  });
}

/** A DaemonSet's pod for one node: pinned by node affinity, with the tolerations the controller adds. */
function daemonSetPod(ds: Obj, o: ChainOptions): ChildObject {
  const spec = specOf(ds);
  const pod = podFrom(
    ds,
    spec,
    o,
    { generateName: `${metaOf(ds).name}-` },
    { 'controller-revision-hash': templateHash(spec['template'] ?? {}), 'pod-template-generation': '1' },
  );
  const podSpec = pod['spec'] as Obj;
  podSpec['affinity'] = {
    ...(isObj(podSpec['affinity']) ? podSpec['affinity'] : {}),
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [o.nodeName] }] }],
      },
    },
  };
  const tolerations = podSpec['tolerations'] as Obj[];
  const add = (key: string, effect: string) => {
    if (!tolerations.some((t) => t['key'] === key && t['effect'] === effect))
      tolerations.push({ key, operator: 'Exists', effect });
  };
  add('node.kubernetes.io/not-ready', 'NoExecute');
  add('node.kubernetes.io/unreachable', 'NoExecute');
  for (const k of ['disk-pressure', 'memory-pressure', 'pid-pressure', 'unschedulable'])
    add(`node.kubernetes.io/${k}`, 'NoSchedule');
  if (podSpec['hostNetwork'] === true) add('node.kubernetes.io/network-unavailable', 'NoSchedule');
  return { controller: 'daemon-set-controller', object: pod };
}

/** What the controllers create for a workload just stored (CREATE, or an UPDATE that changed its pod template). */
export function childrenOf(parent: Obj, o: ChainOptions): ChildObject[] {
  const spec = specOf(parent);
  switch (parent['kind']) {
    case 'Deployment':
      return [{ controller: 'deployment-controller', object: replicaSetOf(parent, o) }];
    case 'ReplicaSet':
    case 'ReplicationController': {
      const name = metaOf(parent).name;
      const controller = parent['kind'] === 'ReplicaSet' ? 'replicaset-controller' : 'replication-controller';
      return Array.from({ length: count(spec['replicas'], 1, o.maxPods) }, () => ({
        controller,
        object: podFrom(parent, spec, o, { generateName: `${name}-` }),
      }));
    }
    case 'CronJob':
      return spec['suspend'] === true ? [] : [{ controller: 'cronjob-controller', object: jobOf(parent, o) }];
    case 'Job':
      return spec['suspend'] === true ? [] : jobPods(parent, o);
    case 'StatefulSet':
      return statefulSetPods(parent, o);
    case 'DaemonSet':
      return o.maxPods > 0 ? [daemonSetPod(parent, o)] : [];
    default:
      return [];
  }
}

/** Whether an UPDATE makes the controller create pods anew: a changed pod template (a rollout). */
export function rollsOut(object: Obj, oldObject: Obj | null): boolean {
  if (!oldObject || !['Deployment', 'StatefulSet', 'DaemonSet'].includes(String(object['kind']))) return false;
  return templateHash(specOf(object)['template'] ?? {}) !== templateHash(specOf(oldObject)['template'] ?? {});
}
