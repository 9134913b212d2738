import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseManifests } from '../eval/manifests';

/** Kinds the demo admits: what a validating webhook for workloads and Ingresses is registered for. */
const ADMITTED_KINDS: ReadonlySet<string> = new Set(['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Ingress']);

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One workload of a manifest file, in the namespace it is deployed to. */
export interface DemoWorkload {
  readonly file: string;
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  readonly object: Obj;
}

/** The manifests of one cluster: whole files, so a cluster runs whole applications. */
export interface ClusterFleet {
  readonly files: readonly string[];
  readonly workloads: readonly DemoWorkload[];
}

/** The namespace a file's objects go to when they name none: the file's name without its version. */
export function namespaceForFile(file: string): string {
  const base = path
    .basename(file)
    .replace(/\.(ya?ml|json)$/i, '')
    .replace(/-v?\d+(\.\d+)*.*$/, '')
    .toLowerCase()
    // what says how a file was published, not what it runs
    .replace(/-(kubernetes-manifests|install(-default)?|recommended|all-in-one|complete-demo|cloud-deploy|native|usage)$/, '');
  const ns = base.replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return ns || 'demo';
}

/** Manifest files of `dir` (sorted), each parsed; a file that does not parse is an error naming it. */
export function loadManifestFiles(dir: string): Array<{ file: string; workloads: DemoWorkload[] }> {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => /\.(ya?ml|json)$/i.test(n)).sort();
  } catch (err) {
    throw new Error(`${dir}: cannot read the manifests directory (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  if (names.length === 0) throw new Error(`${dir}: holds no *.yaml, *.yml or *.json manifests`);
  return names.map((name) => {
    const file = path.join(dir, name);
    const fallbackNs = namespaceForFile(name);
    const workloads: DemoWorkload[] = [];
    for (const m of parseManifests(fs.readFileSync(file, 'utf8'), file)) {
      const o = m.object;
      if (!isObject(o) || typeof o['kind'] !== 'string' || !ADMITTED_KINDS.has(o['kind'])) continue;
      const meta = isObject(o['metadata']) ? o['metadata'] : {};
      if (typeof meta['name'] !== 'string' || meta['name'] === '') continue;
      const namespace = typeof meta['namespace'] === 'string' && meta['namespace'] !== '' ? meta['namespace'] : fallbackNs;
      workloads.push({ file, namespace, kind: o['kind'], name: meta['name'], object: { ...o, metadata: { ...meta, namespace } } });
    }
    return { file, workloads };
  });
}

/** Files dealt to `clusters` clusters in turn, so each runs several applications. */
export function dealFiles(files: ReturnType<typeof loadManifestFiles>, clusters: number): ClusterFleet[] {
  const out = Array.from({ length: clusters }, () => ({ files: [] as string[], workloads: [] as DemoWorkload[] }));
  files.forEach((f, i) => {
    out[i % clusters]!.files.push(f.file);
    out[i % clusters]!.workloads.push(...f.workloads);
  });
  return out;
}

/** A small deterministic generator (mulberry32), so a demo's history has the same shape on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHANUM = 'bcdfghjklmnpqrstvwxz2456789';
const suffix = (rand: () => number, n: number) => Array.from({ length: n }, () => ALPHANUM[Math.floor(rand() * ALPHANUM.length)]).join('');

export interface ReviewSpec {
  readonly operation: 'CREATE' | 'UPDATE';
  readonly object: Obj;
  readonly oldObject?: Obj;
  readonly username: string;
  readonly groups: readonly string[];
}

const DEPLOYER = { username: 'system:serviceaccount:argocd:argocd-application-controller', groups: ['system:serviceaccounts', 'system:serviceaccounts:argocd', 'system:authenticated'] };
const controller = (name: string) => ({ username: `system:serviceaccount:kube-system:${name}`, groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] });

function podTemplate(o: Obj): Obj | undefined {
  const spec = isObject(o['spec']) ? o['spec'] : undefined;
  if (o['kind'] === 'CronJob') {
    const jt = spec && isObject(spec['jobTemplate']) ? spec['jobTemplate'] : undefined;
    const js = jt && isObject(jt['spec']) ? jt['spec'] : undefined;
    return js && isObject(js['template']) ? js['template'] : undefined;
  }
  return spec && isObject(spec['template']) ? spec['template'] : undefined;
}

/**
 * A pod as the controller creates it and kube-apiserver admits it: the template's spec,
 * a generated name, the controller's ownerReference and the service-account token volume
 * kube-apiserver injects (kube-api-access-<random>, mounted in every container).
 */
function podOf(template: Obj, namespace: string, name: string, owner: { apiVersion: string; kind: string; name: string }, labels: Obj, rand: () => number): Obj {
  const tmeta = isObject(template['metadata']) ? template['metadata'] : {};
  const tspec = isObject(template['spec']) ? template['spec'] : {};
  const token = `kube-api-access-${suffix(rand, 5)}`;
  const mount = { name: token, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' };
  const withMount = (cs: unknown) => (Array.isArray(cs) ? cs.map((c) => (isObject(c) ? { ...c, volumeMounts: [...(Array.isArray(c['volumeMounts']) ? c['volumeMounts'] : []), mount] } : c)) : cs);
  const automount = tspec['automountServiceAccountToken'] !== false;
  const spec: Obj = { ...tspec, serviceAccountName: typeof tspec['serviceAccountName'] === 'string' ? tspec['serviceAccountName'] : 'default' };
  if (automount) {
    spec['containers'] = withMount(tspec['containers']);
    if (tspec['initContainers']) spec['initContainers'] = withMount(tspec['initContainers']);
    spec['volumes'] = [
      ...(Array.isArray(tspec['volumes']) ? tspec['volumes'] : []),
      { name: token, projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }, { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } }] } },
    ];
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...tmeta, name, namespace, labels: { ...(isObject(tmeta['labels']) ? tmeta['labels'] : {}), ...labels }, ownerReferences: [{ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: uid(rand), controller: true, blockOwnerDeletion: true }] },
    spec,
  };
}

function uid(rand: () => number): string {
  const h = () => Math.floor(rand() * 0x10000).toString(16).padStart(4, '0');
  return `${h()}${h()}-${h()}-4${h().slice(1)}-a${h().slice(1)}-${h()}${h()}${h()}`;
}

const replicasOf = (o: Obj) => {
  const spec = isObject(o['spec']) ? o['spec'] : {};
  const r = spec['replicas'];
  return Math.max(1, Math.min(3, typeof r === 'number' && Number.isInteger(r) ? r : 1));
};

/**
 * What kube-apiserver sends a validating webhook when `w` is rolled out: the workload
 * itself (CREATE the first time, UPDATE with oldObject after), then what its controllers
 * create: a Deployment's ReplicaSet and its pods, a CronJob's Job and its pod, a Job's,
 * StatefulSet's or DaemonSet's pods. `at` (ms) names the CronJob's Job as the controller does.
 */
export function rolloutReviews(w: DemoWorkload, rollout: number, at: number, rand: () => number): ReviewSpec[] {
  const o = w.object;
  const meta = isObject(o['metadata']) ? o['metadata'] : {};
  const apiVersion = typeof o['apiVersion'] === 'string' ? o['apiVersion'] : 'apps/v1';
  const revised = rollout === 0 ? o : { ...o, metadata: { ...meta, annotations: { ...(isObject(meta['annotations']) ? meta['annotations'] : {}), 'portcullis.dev/demo-rollout': String(rollout) } } };
  const out: ReviewSpec[] = [rollout === 0 ? { operation: 'CREATE', object: o, ...DEPLOYER } : { operation: 'UPDATE', object: revised, oldObject: o, ...DEPLOYER }];
  const template = podTemplate(o);
  if (!template) return out;
  switch (w.kind) {
    case 'Deployment': {
      const hash = `${suffix(rand, 9)}`.slice(0, 9 + Math.floor(rand() * 2));
      const rsName = `${w.name}-${hash}`;
      const tmeta = isObject(template['metadata']) ? template['metadata'] : {};
      const rs: Obj = {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name: rsName, namespace: w.namespace, labels: { ...(isObject(tmeta['labels']) ? tmeta['labels'] : {}), 'pod-template-hash': hash }, ownerReferences: [{ apiVersion, kind: 'Deployment', name: w.name, uid: uid(rand), controller: true, blockOwnerDeletion: true }] },
        spec: { ...(isObject(o['spec']) ? o['spec'] : {}), replicas: replicasOf(o) },
      };
      out.push({ operation: 'CREATE', object: rs, ...controller('deployment-controller') });
      for (let i = 0; i < replicasOf(o); i++) out.push({ operation: 'CREATE', object: podOf(template, w.namespace, `${rsName}-${suffix(rand, 5)}`, { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rsName }, { 'pod-template-hash': hash }, rand), ...controller('replicaset-controller') });
      break;
    }
    case 'StatefulSet':
      for (let i = 0; i < replicasOf(o); i++) out.push({ operation: 'CREATE', object: podOf(template, w.namespace, `${w.name}-${i}`, { apiVersion, kind: 'StatefulSet', name: w.name }, { 'statefulset.kubernetes.io/pod-name': `${w.name}-${i}` }, rand), ...controller('statefulset-controller') });
      break;
    case 'DaemonSet':
      for (let i = 0; i < 3; i++) out.push({ operation: 'CREATE', object: podOf(template, w.namespace, `${w.name}-${suffix(rand, 5)}`, { apiVersion, kind: 'DaemonSet', name: w.name }, {}, rand), ...controller('daemon-set-controller') });
      break;
    case 'Job':
    case 'ReplicaSet':
      out.push({ operation: 'CREATE', object: podOf(template, w.namespace, `${w.name}-${suffix(rand, 5)}`, { apiVersion, kind: w.kind, name: w.name }, {}, rand), ...controller(w.kind === 'Job' ? 'job-controller' : 'replicaset-controller') });
      break;
    case 'CronJob': {
      const jobName = `${w.name}-${Math.floor(at / 60_000)}`;
      const cspec = isObject(o['spec']) ? o['spec'] : {};
      const jt = isObject(cspec['jobTemplate']) ? cspec['jobTemplate'] : {};
      const job: Obj = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: jobName, namespace: w.namespace, ownerReferences: [{ apiVersion, kind: 'CronJob', name: w.name, uid: uid(rand), controller: true, blockOwnerDeletion: true }] }, spec: isObject(jt['spec']) ? jt['spec'] : {} };
      out.push({ operation: 'CREATE', object: job, ...controller('cronjob-controller') });
      out.push({ operation: 'CREATE', object: podOf(template, w.namespace, `${jobName}-${suffix(rand, 5)}`, { apiVersion: 'batch/v1', kind: 'Job', name: jobName }, { 'batch.kubernetes.io/job-name': jobName }, rand), ...controller('job-controller') });
      break;
    }
  }
  return out;
}

/** An AdmissionReview (admission.k8s.io/v1) for one request, as kube-apiserver sends it. */
export function admissionReview(r: ReviewSpec, requestUid: string): Obj {
  const meta = isObject(r.object['metadata']) ? r.object['metadata'] : {};
  const apiVersion = String(r.object['apiVersion'] ?? 'v1');
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') as [string, string] : ['', apiVersion];
  const kind = String(r.object['kind']);
  const resource = kind === 'Ingress' ? 'ingresses' : `${kind.toLowerCase()}s`;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: requestUid,
      kind: { group, version, kind },
      resource: { group, version, resource },
      requestKind: { group, version, kind },
      requestResource: { group, version, resource },
      name: meta['name'] ?? '',
      namespace: meta['namespace'],
      operation: r.operation,
      userInfo: { username: r.username, groups: r.groups },
      object: r.object,
      oldObject: r.oldObject ?? null,
      dryRun: false,
      options: r.operation === 'CREATE' ? { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' } : { kind: 'UpdateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  };
}
