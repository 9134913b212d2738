import YAML from 'yaml';
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

/** Bad input: exit code 2, the message names file, document (from 1) and line. */
export class AdmitInputError extends Error {}

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
  throw new AdmitInputError(message);
}

/**
 * Splits one input into objects: multi-document YAML, JSON (an object or an array of
 * them), and the items of `kind: List` (or any `*List` kind kubectl accepts). Empty
 * documents (a trailing `---`, comments only) are skipped, as kubectl does.
 */
export function parseManifests(text: string, source: string): ManifestObject[] {
  const out: ManifestObject[] = [];
  const add = (value: unknown, document: number, line: number | undefined) => {
    if (value === null || value === undefined) return;
    const list =
      isRecord(value) &&
      typeof value['kind'] === 'string' &&
      value['kind'].endsWith('List') &&
      Array.isArray(value['items']);
    const items = Array.isArray(value) ? value : list ? (value['items'] as unknown[]) : null;
    if (items) {
      items.forEach((item, i) => {
        const where = locate(source, document, line, i + 1);
        out.push({
          source,
          document,
          item: i + 1,
          ...(line !== undefined ? { line } : {}),
          ...checkObject(item, where),
        });
      });
      return;
    }
    out.push({
      source,
      document,
      ...(line !== undefined ? { line } : {}),
      ...checkObject(value, locate(source, document, line)),
    });
  };
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return fail(`${locate(source, 1)}: not valid JSON: ${(err as Error).message}`);
    }
    add(
      value,
      1,
      text.length - trimmed.length > 0 ? text.slice(0, text.length - trimmed.length).split('\n').length : 1,
    );
    return out;
  }
  const lineOf = (offset: number) => text.slice(0, offset).split('\n').length;
  const docs = YAML.parseAllDocuments(text, { uniqueKeys: false });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const start = doc.contents?.range?.[0];
    const line = start !== undefined ? lineOf(start) : undefined;
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      // the parser's message repeats the position, which this one already gives
      const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      fail(
        `${locate(source, i + 1)}: line ${e.linePos?.[0]?.line ?? lineOf(e.pos[0])}, column ${e.linePos?.[0]?.col ?? 1}: ${what}`,
      );
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      fail(`${locate(source, i + 1, line)}: ${(err as Error).message}`);
    }
    add(value, i + 1, line);
  });
  return out;
}
