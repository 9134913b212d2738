import { expandInputs, InputError, readSource } from '../manifests';
import { parseManifests, type ManifestObject } from './manifests';

/**
 * `portcullis admit` as a library: the demo command and tests build reviews and send
 * them with these. Pure parts (manifests, review, controllers, defaults, output) do no
 * I/O; `readManifests` and `postReview` are the edges.
 */
export { admitManifests, WEBHOOK_NAME, type AdmitOptions, type AdmitResult } from './admit';
export { childrenOf, rollsOut, stampForCreate, type ChainOptions, type ChildObject } from './controllers';
export { InputError } from '../manifests';
export { parseManifests, type KubeObject, type ManifestObject } from './manifests';
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

/** Every object of the inputs, in order; the first unreadable or invalid input stops it with an InputError. */
export async function readManifests(
  inputs: readonly string[],
  io: { cwd: string; stdin: NodeJS.ReadableStream },
): Promise<ManifestObject[]> {
  if (inputs.filter((i) => i === '-').length > 1) throw new InputError('"-" (stdin) can be given once');
  const out: ManifestObject[] = [];
  for (const file of expandInputs(inputs, io.cwd)) out.push(...parseManifests(await readSource(file, io), file));
  return out;
}
