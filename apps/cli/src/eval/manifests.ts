import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';

/** One Kubernetes object from an input file, with where it came from. */
export interface ManifestObject {
  readonly source: string;
  /** 0-based document index in the source (items of a List share their document's index). */
  readonly index: number;
  /** 1-based line where the document starts, when known (YAML). */
  readonly line?: number;
  readonly object: unknown;
}

export class InputError extends Error {}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;

/** Files named on the command line; directories are walked for *.yaml, *.yml and *.json. */
export function expandInputs(inputs: readonly string[], cwd: string): string[] {
  const out: string[] = [];
  for (const input of inputs) {
    if (input === '-') {
      out.push('-');
      continue;
    }
    const full = path.resolve(cwd, input);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(full);
    } catch {
      throw new InputError(`${input}: no such file or directory`);
    }
    if (stat.isDirectory()) {
      const walk = (dir: string) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
          const p = path.join(dir, e.name);
          if (e.isDirectory()) walk(p);
          else if (MANIFEST_FILE.test(e.name)) out.push(path.relative(cwd, p) || p);
        }
      };
      walk(full);
    } else out.push(input);
  }
  return out;
}

/** Splits a source into objects: multi-document YAML, JSON (object or array), `kind: List` items. */
export function parseManifests(text: string, source: string): ManifestObject[] {
  const trimmed = text.trimStart();
  const out: ManifestObject[] = [];
  const push = (value: unknown, index: number, line?: number) => {
    if (value === null || value === undefined) return;
    const items = typeof value === 'object' && !Array.isArray(value) && (value as Record<string, unknown>)['kind'] === 'List' && Array.isArray((value as Record<string, unknown>)['items'])
      ? ((value as Record<string, unknown>)['items'] as unknown[])
      : [value];
    for (const item of items) out.push({ source, index, ...(line ? { line } : {}), object: item });
  };
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new InputError(`${source}: document 0: not valid JSON: ${(err as Error).message}`);
    }
    if (Array.isArray(value)) value.forEach((v, i) => push(v, i));
    else push(value, 0, 1);
    return out;
  }
  const lineOf = (offset: number) => text.slice(0, offset).split('\n').length;
  const docs = YAML.parseAllDocuments(text, { uniqueKeys: false });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      throw new InputError(`${source}: document ${i}: line ${e.linePos?.[0]?.line ?? lineOf(e.pos[0])}: ${e.message.split('\n')[0]}`);
    }
    const start = doc.contents?.range?.[0];
    push(doc.toJS({ maxAliasCount: 1000 }), i, start !== undefined ? lineOf(start) : undefined);
  });
  return out;
}
