import * as fs from 'node:fs';
import * as path from 'node:path';
import { AdmitInputError, parseManifests, type ManifestObject } from './manifests';

/**
 * `portcullis admit` as a library: the demo command and tests build reviews and send
 * them with these. Pure parts (manifests, review, controllers, defaults, output) do no
 * I/O; `readManifests` and `postReview` are the edges.
 */
export { admitManifests, WEBHOOK_NAME, type AdmitOptions, type AdmitResult } from './admit';
export { childrenOf, rollsOut, stampForCreate, type ChainOptions, type ChildObject } from './controllers';
export { AdmitInputError, parseManifests, type KubeObject, type ManifestObject } from './manifests';
export { randomNames, seededNames, templateHash, type NameSource } from './names';
export { deniedStatus, jsonFor, textFor } from './output';
export { kubectlName, quotedName, resourceOf, type ResourceInfo } from './resources';
export {
  KUBERNETES_ADMIN,
  admissionReview,
  controllerUser,
  impersonatedUser,
  type Operation,
  type UserInfo,
} from './review';
export {
  DEFAULT_TIMEOUT_MS,
  postReview,
  readAnswer,
  type AdmissionResponse,
  type WebhookAnswer,
  type WebhookTarget,
} from './webhook-client';

const MANIFEST_FILE = /\.(ya?ml|json)$/i;

/** Files named, directories walked recursively (sorted, *.yaml, *.yml, *.json), "-" for stdin. */
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
    } catch (err) {
      throw new AdmitInputError(
        `${input}: cannot read: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`,
      );
    }
    if (!stat.isDirectory()) {
      out.push(input);
      continue;
    }
    const walk = (dir: string) => {
      for (const e of fs
        .readdirSync(dir, { withFileTypes: true })
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (MANIFEST_FILE.test(e.name)) out.push(path.relative(cwd, p) || p);
      }
    };
    walk(full);
  }
  return out;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

/** Every object of the inputs, in order; the first unreadable or invalid input stops it with an AdmitInputError. */
export async function readManifests(
  inputs: readonly string[],
  io: { cwd: string; stdin: NodeJS.ReadableStream },
): Promise<ManifestObject[]> {
  if (inputs.filter((i) => i === '-').length > 1) throw new AdmitInputError('"-" (stdin) can be given once');
  const out: ManifestObject[] = [];
  for (const file of expandInputs(inputs, io.cwd)) {
    let text: string;
    if (file === '-') text = await readAll(io.stdin);
    else {
      try {
        text = fs.readFileSync(path.resolve(io.cwd, file), 'utf8');
      } catch (err) {
        throw new AdmitInputError(
          `${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
    }
    out.push(...parseManifests(text, file));
  }
  return out;
}
