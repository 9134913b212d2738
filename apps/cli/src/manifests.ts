import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';

/**
 * Reading manifests, for every command that takes them (`eval`, `admit`): files, directories
 * walked for *.yaml, *.yml and *.json, "-" for stdin; multi-document YAML, JSON (an object or an
 * array of them) and the items of `kind: List` (or any `*List` kind kubectl accepts). Documents
 * and items are numbered from 1 and lines point inside the file, so a message names what is wrong.
 */

/** One value from an input file (not yet checked to be a Kubernetes object), with where it came from. */
export interface ManifestObject {
  readonly source: string;
  /** Document number in the source, from 1 (items of a List share their document's number; elements of a top-level JSON array are documents). */
  readonly index: number;
  /** Item number, from 1, inside a `kind: List` document. */
  readonly item?: number;
  /** Line, from 1, where the document's content starts, when known (YAML, a JSON object). */
  readonly line?: number;
  readonly object: unknown;
}

/** Bad input (exit code 2): the message names the file, the document (from 1) and the line. */
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
      throw new InputError(`${input}: cannot read: no such file or directory`);
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

/**
 * A 1-based line of `text` holding `offset`, never past the file's last line: a parser
 * reports an unexpected end at the offset after a final newline, which no editor shows.
 */
export function lineAt(text: string, offset: number): number {
  const clamped = Math.max(0, Math.min(offset, text.length));
  const line = text.slice(0, clamped).split('\n').length;
  const last = text.length === 0 ? 1 : text.replace(/\r?\n$/, '').split('\n').length;
  return Math.min(line, last);
}

/** Splits a source into values: multi-document YAML, JSON (object or array), `*List` items. Documents are numbered from 1. */
export function parseManifests(text: string, source: string): ManifestObject[] {
  const trimmed = text.trimStart();
  const out: ManifestObject[] = [];
  const push = (value: unknown, index: number, line?: number) => {
    if (value === null || value === undefined) return;
    if (
      typeof value === 'object' &&
      !Array.isArray(value) &&
      typeof (value as Record<string, unknown>)['kind'] === 'string' &&
      ((value as Record<string, unknown>)['kind'] as string).endsWith('List') &&
      Array.isArray((value as Record<string, unknown>)['items'])
    ) {
      ((value as Record<string, unknown>)['items'] as unknown[]).forEach((item, i) =>
        out.push({ source, index, item: i + 1, ...(line ? { line } : {}), object: item }),
      );
    } else out.push({ source, index, ...(line ? { line } : {}), object: value });
  };
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      // V8 names the position ("at position 18 (line 3 column 1)"): say the line the file has
      const message = (err as Error).message;
      const at = /at position (\d+)/.exec(message);
      const where = at
        ? `line ${lineAt(text, Number(at[1]))}: `
        : /end of JSON input/.test(message)
          ? `line ${lineAt(text, text.length)}: `
          : '';
      throw new InputError(
        `${source}: document 1: ${where}not valid JSON: ${message.replace(/ in JSON at position \d+.*$/, '')}`,
      );
    }
    if (Array.isArray(value)) value.forEach((v, i) => push(v, i + 1));
    else push(value, 1, lineAt(text, text.length - trimmed.length));
    return out;
  }
  const docs = YAML.parseAllDocuments(text, { uniqueKeys: false });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      // the parser's own "at line L, column C" may point past the end: the line is computed here
      const message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      throw new InputError(`${source}: document ${i + 1}: line ${lineAt(text, e.pos[0])}: ${message}`);
    }
    const start = doc.contents?.range?.[0];
    push(doc.toJS({ maxAliasCount: 1000 }), i + 1, start !== undefined ? lineAt(text, start) : undefined);
  });
  return out;
}

/** The text of one input: a file relative to `cwd`, or stdin for "-". */
export async function readSource(source: string, io: { cwd: string; stdin: NodeJS.ReadableStream }): Promise<string> {
  if (source === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of io.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return fs.readFileSync(path.resolve(io.cwd, source), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(
      `${source}: cannot read: ${code === 'ENOENT' ? 'no such file or directory' : (code ?? (err as Error).message)}`,
    );
  }
}
