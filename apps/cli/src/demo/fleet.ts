import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseManifests, type KubeObject, type ManifestObject } from '../admit';

/** Kinds the demo deploys: what the agent's webhook is registered for (workloads and Ingresses). */
const DEPLOYED_KINDS: ReadonlySet<string> = new Set([
  'Pod',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
  'Ingress',
]);
/** Kinds `kubectl rollout restart` applies to: an UPDATE of the pod template, and new pods. */
const RESTARTABLE: ReadonlySet<string> = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One workload of a manifest file, in the namespace it is deployed to. */
export interface DemoWorkload {
  readonly file: string;
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  /** As `portcullis admit` reads it, with the namespace set. */
  readonly manifest: ManifestObject;
}

/** The manifests of one cluster: whole files, so a cluster runs whole applications. */
export interface ClusterFleet {
  readonly files: readonly string[];
  readonly workloads: readonly DemoWorkload[];
}

/** The namespace a file's objects go to when they name none: the application's name in the file name. */
export function namespaceForFile(file: string): string {
  const base = path
    .basename(file)
    .replace(/\.(ya?ml|json)$/i, '')
    .replace(/-v?\d+(\.\d+)*.*$/, '')
    .toLowerCase()
    // what says how a file was published, not what it runs
    .replace(
      /-(kubernetes-manifests|install(-default)?|recommended|all-in-one|complete-demo|cloud-deploy|native|usage)$/,
      '',
    );
  const ns = base
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return ns || 'demo';
}

/** Manifest files of `dir` (sorted), each parsed as `portcullis admit` parses it; a file that does not parse is an error naming it. */
export function loadManifestFiles(dir: string): Array<{ file: string; workloads: DemoWorkload[] }> {
  let names: string[];
  try {
    names = fs
      .readdirSync(dir)
      .filter((n) => /\.(ya?ml|json)$/i.test(n))
      .sort();
  } catch (err) {
    throw new Error(
      `${dir}: cannot read the manifests directory (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  if (names.length === 0) throw new Error(`${dir}: holds no *.yaml, *.yml or *.json manifests`);
  return names.map((name) => {
    const file = path.join(dir, name);
    const fallbackNs = namespaceForFile(name);
    const workloads: DemoWorkload[] = [];
    for (const m of parseManifests(fs.readFileSync(file, 'utf8'), file)) {
      const o = m.object;
      if (!DEPLOYED_KINDS.has(o.kind) || !o.metadata.name) continue;
      const namespace = o.metadata.namespace || fallbackNs;
      workloads.push({
        file,
        namespace,
        kind: o.kind,
        name: o.metadata.name,
        manifest: { ...m, object: { ...o, metadata: { ...o.metadata, namespace } } },
      });
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

/**
 * What changes a running workload on a later day: `kubectl rollout restart` (an UPDATE
 * stamping the pod template, so the controller rolls new pods) for Deployments,
 * StatefulSets and DaemonSets; other kinds are created again (a Job re-run, a Pod
 * replaced). Returns what `portcullis admit` is given: the objects and the old ones.
 */
export function laterChange(
  w: DemoWorkload,
  at: Date,
): { operation: 'CREATE' | 'UPDATE'; objects: ManifestObject[]; oldObjects?: ManifestObject[] } {
  if (!RESTARTABLE.has(w.kind)) return { operation: 'CREATE', objects: [w.manifest] };
  const o = w.manifest.object;
  const spec = isObject(o['spec']) ? o['spec'] : {};
  const template = isObject(spec['template']) ? spec['template'] : {};
  const tmeta = isObject(template['metadata']) ? template['metadata'] : {};
  const annotations = {
    ...(isObject(tmeta['annotations']) ? tmeta['annotations'] : {}),
    'kubectl.kubernetes.io/restartedAt': at.toISOString(),
  };
  const restarted: KubeObject = {
    ...o,
    spec: { ...spec, template: { ...template, metadata: { ...tmeta, annotations } } },
  };
  return { operation: 'UPDATE', objects: [{ ...w.manifest, object: restarted }], oldObjects: [w.manifest] };
}
