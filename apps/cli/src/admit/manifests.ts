import { InputError, parseManifests as splitManifests } from '../manifests';
import { resourceOf, type ResourceInfo } from './resources';

/** One Kubernetes object to admit, with where it came from (as kubectl names it in errors). */
export interface ManifestObject {
  /** The file as given (relative to the working directory), or "-" for stdin. */
  readonly source: string;
  /** 1-based document number in the source. */
  readonly document: number;
  /** 1-based item number when the document is a `kind: List` (or a JSON array). */
  readonly item?: number;
  /** 1-based line where the document starts, when known. */
  readonly line?: number;
  readonly object: KubeObject;
  readonly resource: ResourceInfo;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; generateName?: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

const API_VERSION = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?v[0-9]+((alpha|beta)[0-9]*)?$/;
const KIND = /^[A-Za-z][A-Za-z0-9]{0,62}$/;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Where a document is, for messages: `web.yaml: document 2 (line 14)`, `item 3` inside a List. */
export function locate(source: string, document: number, line?: number, item?: number): string {
  return `${source === '-' ? 'STDIN' : source}: document ${document}${item !== undefined ? `, item ${item}` : ''}${line !== undefined ? ` (line ${line})` : ''}`;
}

/** The checks kube-apiserver makes before admission that kubectl would report: a type, and a name. */
function checkObject(value: unknown, where: string): { object: KubeObject; resource: ResourceInfo } {
  if (!isRecord(value)) return fail(`${where}: not a Kubernetes object (a mapping with apiVersion, kind and metadata)`);
  const { apiVersion, kind } = value;
  if (typeof apiVersion !== 'string' || apiVersion === '')
    return fail(`${where}: apiVersion is missing or not a string`);
  if (typeof kind !== 'string' || kind === '') return fail(`${where}: kind is missing or not a string`);
  if (!API_VERSION.test(apiVersion))
    return fail(
      `${where}: apiVersion "${apiVersion.slice(0, 100)}" is not a version or group/version (e.g. v1, apps/v1)`,
    );
  if (!KIND.test(kind)) return fail(`${where}: kind "${kind.slice(0, 100)}" is not a Kubernetes kind`);
  const metadata = value['metadata'];
  if (metadata !== undefined && !isRecord(metadata)) return fail(`${where}: metadata is not a mapping`);
  const meta = (metadata ?? {}) as Record<string, unknown>;
  for (const key of ['name', 'generateName', 'namespace'] as const) {
    if (meta[key] !== undefined && typeof meta[key] !== 'string')
      return fail(`${where}: metadata.${key} is not a string`);
  }
  if (!meta['name'] && !meta['generateName'])
    return fail(`${where}: ${kind} has neither metadata.name nor metadata.generateName`);
  const resource = resourceOf(apiVersion, kind);
  return { object: { ...value, apiVersion, kind, metadata: meta } as KubeObject, resource };
}

function fail(message: string): never {
  throw new InputError(message);
}

/**
 * One input's objects, split by the shared reader (multi-document YAML, JSON, `*List` items;
 * empty documents skipped, as kubectl does), each checked as kube-apiserver would before admission.
 */
export function parseManifests(text: string, source: string): ManifestObject[] {
  return splitManifests(text, source).map((m) => ({
    source,
    document: m.index,
    ...(m.item !== undefined ? { item: m.item } : {}),
    ...(m.line !== undefined ? { line: m.line } : {}),
    ...checkObject(m.object, locate(source, m.index, m.line, m.item)),
  }));
}
