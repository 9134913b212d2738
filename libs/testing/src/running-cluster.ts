import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import type { KubeApiStandIn, KubeObject } from './kube-api';
import { SHARED } from './reviews';

/** Kinds a cluster runs workloads as (and Ingress), as the agent's background audit watches them. */
const WORKLOAD_KINDS: ReadonlySet<string> = new Set([
  'Pod',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'ReplicationController',
  'Job',
  'CronJob',
  'Ingress',
]);

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Every workload and Ingress of ../shared/fixtures/manifests (first of each kind/namespace/name),
 * with the namespace the file's objects would get (a file without one: its own name).
 */
export function manifestWorkloads(): Obj[] {
  const dir = path.join(SHARED, 'manifests');
  const seen = new Set<string>();
  const out: Obj[] = [];
  for (const file of fs
    .readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()) {
    const fallback = file
      .replace(/\.ya?ml$/, '')
      .replace(/[^a-z0-9-]/g, '-')
      .slice(0, 50);
    for (const doc of YAML.parseAllDocuments(fs.readFileSync(path.join(dir, file), 'utf8'))) {
      const object = doc.toJS({ maxAliasCount: 1000 }) as unknown;
      if (!isObject(object) || !WORKLOAD_KINDS.has(String(object['kind'])) || !isObject(object['metadata'])) continue;
      const meta = object['metadata'];
      const namespace = typeof meta['namespace'] === 'string' ? meta['namespace'] : fallback;
      const key = `${String(object['kind'])}/${namespace}/${String(meta['name'])}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ ...object, metadata: { ...meta, namespace } });
    }
  }
  return out;
}

const ownerRef = (o: KubeObject) => ({
  apiVersion: o.apiVersion,
  kind: o.kind,
  name: o.metadata.name,
  uid: o.metadata['uid'],
  controller: true,
  blockOwnerDeletion: true,
});

const suffix = (seed: string, n = 5) =>
  createHash('sha256')
    .update(seed)
    .digest('hex')
    .replace(/[^a-z0-9]/g, '')
    .slice(0, n);

function templateOf(o: Obj): Obj | undefined {
  const spec = isObject(o['spec']) ? o['spec'] : {};
  if (o['kind'] === 'CronJob') {
    const job = isObject(spec['jobTemplate']) ? spec['jobTemplate'] : {};
    const jobSpec = isObject(job['spec']) ? job['spec'] : {};
    return isObject(jobSpec['template']) ? jobSpec['template'] : undefined;
  }
  return isObject(spec['template']) ? spec['template'] : undefined;
}

/** A running pod of `owner` made from its pod template, as its controller would create it. */
function podOf(owner: KubeObject, template: Obj, name: string): Obj {
  const meta = isObject(template['metadata']) ? template['metadata'] : {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...meta,
      name,
      namespace: owner.metadata.namespace,
      generateName: `${name.slice(0, name.lastIndexOf('-') + 1)}`,
      ownerReferences: [ownerRef(owner)],
    },
    spec: template['spec'],
    status: { phase: 'Running' },
  };
}

/**
 * Puts a workload into the stand-in Kubernetes API as its controllers would have it running:
 * a Deployment with its ReplicaSet (pod-template-hash) and pods, a CronJob with one Job and
 * its pod, a StatefulSet's ordinal pods, a DaemonSet's, a Job's, a ReplicaSet's or an RC's pods;
 * a bare Pod with phase Running; an Ingress as it is. Returns the running pods created.
 */
export function putRunning(kube: KubeApiStandIn, workload: Obj, pods = 2): number {
  const kind = String(workload['kind']);
  const top = kube.put(workload);
  const name = top.metadata.name;
  if (kind === 'Ingress') return 0;
  if (kind === 'Pod') {
    kube.put({ ...top, status: { phase: 'Running' } });
    return 1;
  }
  const template = templateOf(workload);
  if (!template) return 0;
  let owner = top;
  let podTemplate = template;
  if (kind === 'Deployment') {
    const hash = suffix(JSON.stringify(template), 10);
    const meta = isObject(template['metadata']) ? template['metadata'] : {};
    const labels = { ...(isObject(meta['labels']) ? meta['labels'] : {}), 'pod-template-hash': hash };
    podTemplate = { ...template, metadata: { ...meta, labels } };
    owner = kube.put({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${name}-${hash}`,
        namespace: top.metadata.namespace,
        labels,
        ownerReferences: [ownerRef(top)],
      },
      spec: { replicas: pods, selector: { matchLabels: labels }, template: podTemplate },
    });
  } else if (kind === 'CronJob') {
    const job = `${name}-29000000`;
    const jobTemplate = ((workload['spec'] as Obj)['jobTemplate'] ?? {}) as Obj;
    owner = kube.put({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: job, namespace: top.metadata.namespace, ownerReferences: [ownerRef(top)] },
      spec: jobTemplate['spec'],
    });
  }
  for (let i = 0; i < pods; i++) {
    const podName =
      kind === 'StatefulSet' ? `${name}-${i}` : `${owner.metadata.name}-${suffix(`${owner.metadata.name}/${i}`)}`;
    kube.put(podOf(owner, podTemplate, podName));
  }
  return pods;
}
