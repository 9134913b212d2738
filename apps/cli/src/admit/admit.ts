import * as https from 'node:https';
import { childrenOf, rollsOut, stampForCreate } from './controllers';
import { applyApiDefaults, applyJobSelector, applyPodAdmissionPlugins, clone } from './defaults';
import { InputError } from '../manifests';
import { locate, type ManifestObject } from './manifests';
import { randomNames, type NameSource } from './names';
import { resourceOf, type ResourceInfo } from './resources';
import { admissionReview, controllerUser, type Operation, type UserInfo } from './review';
import { postReview, type AdmissionResponse, type WebhookAnswer, type WebhookTarget } from './webhook-client';

type Obj = Record<string, unknown>;

/** The name of the agent's webhook in its ValidatingWebhookConfiguration (the Helm chart's). */
export const WEBHOOK_NAME = 'validate.portcullis.dev';
/** kubectl apply's field manager: user requests carry it, controllers' do not. */
const KUBECTL_FIELD_MANAGER = 'kubectl-client-side-apply';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export interface AdmitOptions {
  readonly target: WebhookTarget;
  readonly operation: Operation;
  readonly dryRun: boolean;
  /** -n: the namespace of objects that name none; an object naming another one is an input error (as in kubectl). */
  readonly namespace?: string;
  readonly user: UserInfo;
  /** Pods sent per controller: min(replicas, maxPods). */
  readonly maxPods: number;
  readonly nodeName: string;
  /** --old: the objects an UPDATE replaces, matched by kind, namespace and name. */
  readonly oldObjects?: readonly ManifestObject[];
  readonly names?: NameSource;
  readonly now?: () => Date;
  /** Sends one review; the HTTPS client by default. */
  readonly send?: (review: Record<string, unknown>) => Promise<WebhookAnswer>;
  /** Called with each result as soon as it is known (so output streams as kubectl's does). */
  readonly onResult?: (result: AdmitResult) => void;
}

/** One request kube-apiserver would have made, and what the webhook answered. */
export interface AdmitResult {
  /** Position in the run; `parent` is the index of the request whose controller made this one. */
  readonly index: number;
  readonly parent: number | null;
  readonly depth: number;
  readonly source: string;
  readonly document: number;
  readonly item?: number;
  readonly line?: number;
  /** The kube-system service account of the controller that made the request (chain requests only). */
  readonly controller?: string;
  readonly operation: Operation;
  readonly dryRun: boolean;
  readonly apiVersion: string;
  readonly kind: string;
  readonly resource: ResourceInfo;
  readonly namespace?: string;
  readonly name: string;
  readonly user: string;
  readonly uid: string;
  /** False when the agent's webhook configuration does not match the resource: kube-apiserver would not call it. */
  readonly sent: boolean;
  readonly outcome: 'allowed' | 'denied' | 'error';
  readonly response?: AdmissionResponse;
  readonly error?: string;
  /** The review sent, for callers that keep it (the demo); not printed. */
  readonly review?: Record<string, unknown>;
}

const identity = (r: ResourceInfo, ns: string | undefined, name: string) => `${r.group}/${r.kind}/${ns ?? ''}/${name}`;

function namespaceFor(m: ManifestObject, explicit: string | undefined): string | undefined {
  if (!m.resource.namespaced) return undefined;
  const own = m.object.metadata.namespace;
  if (explicit && own && own !== explicit) {
    throw new InputError(
      `${locate(m.source, m.document, m.line, m.item)}: the namespace from the provided object "${own}" does not match the namespace "${explicit}". You must pass '--namespace=${own}' to perform this operation.`,
    );
  }
  return own || explicit || 'default';
}

/** The object as written, with its namespace, as kubectl sends it (and records it in last-applied). */
function asSent(m: ManifestObject, namespace: string | undefined): Obj {
  const o = clone(m.object) as Obj;
  const meta = o['metadata'] as Obj;
  if (namespace) meta['namespace'] = namespace;
  else delete meta['namespace'];
  return o;
}

function withLastApplied(o: Obj, applied: Obj): void {
  const meta = o['metadata'] as Obj;
  const annotations = (
    typeof meta['annotations'] === 'object' && meta['annotations'] !== null ? meta['annotations'] : {}
  ) as Record<string, string>;
  const copy = clone(applied);
  const copyMeta = copy['metadata'] as Obj;
  if (copyMeta['annotations'] && typeof copyMeta['annotations'] === 'object')
    delete (copyMeta['annotations'] as Obj)[LAST_APPLIED];
  meta['annotations'] = { ...annotations, [LAST_APPLIED]: `${JSON.stringify(copy)}\n` };
}

/** Defaults, admission plugins and kind-specific fields the API adds on creation. */
function asStored(o: Obj, names: NameSource): void {
  applyApiDefaults(o);
  if (o['kind'] === 'Job') applyJobSelector(o);
  if (o['kind'] === 'Pod') applyPodAdmissionPlugins(o, names);
}

function tokenVolumeSuffix(pod: Obj): string | undefined {
  const volumes = (pod['spec'] as { volumes?: unknown } | undefined)?.volumes;
  if (!Array.isArray(volumes)) return undefined;
  for (const v of volumes) {
    const name = (v as { name?: unknown } | null)?.name;
    if (typeof name === 'string' && name.startsWith('kube-api-access-')) return name.slice('kube-api-access-'.length);
  }
  return undefined;
}

interface Planned {
  readonly m: ManifestObject;
  readonly namespace: string | undefined;
  readonly name: string;
  readonly requestName: string;
  readonly object: Obj | null;
  readonly oldObject: Obj | null;
}

/**
 * Turns the inputs into the top-level requests, checking everything before anything is
 * sent: a bad input stops the run with nothing half-done.
 */
function plan(objects: readonly ManifestObject[], o: AdmitOptions, names: NameSource, now: Date): Planned[] {
  if (objects.length === 0) throw new InputError('no Kubernetes object found in the inputs');
  const olds = new Map<string, Obj>();
  for (const m of o.oldObjects ?? []) {
    const ns = namespaceFor(m, o.namespace);
    if (m.object.metadata.name) olds.set(identity(m.resource, ns, m.object.metadata.name), asSent(m, ns));
  }
  const previous = new Map<string, Obj>();
  return objects.map((m) => {
    const namespace = namespaceFor(m, o.namespace);
    const where = locate(m.source, m.document, m.line, m.item);
    const given = m.object.metadata.name;
    if (o.operation !== 'CREATE' && !given)
      throw new InputError(
        `${where}: ${m.object.kind} has no metadata.name: ${o.operation} needs the name of an existing object`,
      );
    const sent = asSent(m, namespace);
    if (o.operation === 'DELETE') {
      const old = clone(sent);
      stampForCreate(old, names, now);
      asStored(old, names);
      return { m, namespace, name: given!, requestName: given!, object: null, oldObject: old };
    }
    const object = clone(sent);
    withLastApplied(object, sent);
    if (o.operation === 'CREATE') {
      stampForCreate(object, names, now);
      asStored(object, names);
      const name = String((object['metadata'] as Obj)['name']);
      return { m, namespace, name, requestName: given ?? '', object, oldObject: null };
    }
    // UPDATE: --old, else an earlier document with the same identity, else the object itself (a re-apply)
    const key = identity(m.resource, namespace, given!);
    const oldSent = olds.get(key) ?? previous.get(key) ?? sent;
    previous.set(key, sent);
    const old = clone(oldSent);
    withLastApplied(old, oldSent);
    stampForCreate(old, names, new Date(now.getTime() - 3_600_000));
    asStored(old, names);
    // the stored Pod keeps its token volume across updates (apply's three-way merge leaves server-added fields): same name
    const oldToken = tokenVolumeSuffix(old);
    asStored(object, oldToken ? { suffix: () => oldToken, uid: names.uid } : names);
    const oldMeta = old['metadata'] as Obj;
    const meta = object['metadata'] as Obj;
    for (const k of ['uid', 'creationTimestamp']) meta[k] = oldMeta[k];
    if (oldMeta['generation'] !== undefined)
      meta['generation'] =
        JSON.stringify(object['spec']) === JSON.stringify(old['spec'])
          ? oldMeta['generation']
          : Number(oldMeta['generation']) + 1;
    return { m, namespace, name: given!, requestName: given!, object, oldObject: old };
  });
}

/**
 * What kube-apiserver would do with the manifests, sent to an agent's webhook: each
 * top-level request as the user, then (CREATE, or an UPDATE that rolls pods out, not a
 * dry run, and only while admitted) the requests the controllers would make.
 */
export async function admitManifests(objects: readonly ManifestObject[], o: AdmitOptions): Promise<AdmitResult[]> {
  const names = o.names ?? randomNames;
  const clock = o.now ?? (() => new Date());
  const planned = plan(objects, o, names, clock());
  // one kept-alive connection, as kube-apiserver keeps one to a webhook: a TLS handshake per review would cost more than the review
  const connection = o.send ? null : new https.Agent({ keepAlive: true, maxSockets: 1 });
  const send = o.send ?? ((review: Record<string, unknown>) => postReview(o.target, review, connection!));
  try {
    return await run(planned, o, names, clock, send);
  } finally {
    connection?.destroy();
  }
}

async function run(
  planned: readonly Planned[],
  o: AdmitOptions,
  names: NameSource,
  clock: () => Date,
  send: (review: Record<string, unknown>) => Promise<WebhookAnswer>,
): Promise<AdmitResult[]> {
  const results: AdmitResult[] = [];

  const submit = async (p: {
    m: ManifestObject;
    resource: ResourceInfo;
    operation: Operation;
    namespace: string | undefined;
    name: string;
    requestName: string;
    object: Obj | null;
    oldObject: Obj | null;
    user: UserInfo;
    controller?: string;
    parent: number | null;
    depth: number;
    fieldManager?: string;
  }): Promise<AdmitResult> => {
    const uid = names.uid();
    const review = admissionReview({
      uid,
      resource: p.resource,
      operation: p.operation,
      name: p.requestName,
      ...(p.namespace ? { namespace: p.namespace } : {}),
      user: p.user,
      object: p.object,
      oldObject: p.oldObject,
      dryRun: o.dryRun,
      ...(p.fieldManager ? { fieldManager: p.fieldManager } : {}),
    });
    const base = {
      index: results.length,
      parent: p.parent,
      depth: p.depth,
      source: p.m.source,
      document: p.m.document,
      ...(p.m.item !== undefined ? { item: p.m.item } : {}),
      ...(p.m.line !== undefined ? { line: p.m.line } : {}),
      ...(p.controller ? { controller: p.controller } : {}),
      operation: p.operation,
      dryRun: o.dryRun,
      apiVersion: p.resource.group ? `${p.resource.group}/${p.resource.version}` : p.resource.version,
      kind: p.resource.kind,
      resource: p.resource,
      ...(p.namespace ? { namespace: p.namespace } : {}),
      name: p.name,
      user: p.user.username,
      uid,
      review,
    };
    // a DELETE is sent whatever the rules say: the agent records it when a configuration registers DELETE
    const matched = p.resource.matchedByWebhook || p.operation === 'DELETE';
    let result: AdmitResult;
    if (!matched) result = { ...base, sent: false, outcome: 'allowed' };
    else {
      const answer = await send(review);
      result = answer.ok
        ? { ...base, sent: true, outcome: answer.response.allowed ? 'allowed' : 'denied', response: answer.response }
        : { ...base, sent: true, outcome: 'error', error: answer.error };
    }
    results.push(result);
    o.onResult?.(result);
    return result;
  };

  const followChain = async (
    parentResult: AdmitResult,
    parentObject: Obj,
    m: ManifestObject,
    depth: number,
  ): Promise<void> => {
    for (const child of childrenOf(parentObject, { maxPods: o.maxPods, nodeName: o.nodeName, names, now: clock() })) {
      const meta = child.object['metadata'] as Obj;
      const resource = resourceOf(String(child.object['apiVersion']), String(child.object['kind']));
      const generated = meta['generateName'] !== undefined;
      const r = await submit({
        m,
        resource,
        operation: 'CREATE',
        namespace: parentResult.namespace,
        name: String(meta['name']),
        requestName: generated ? '' : String(meta['name']),
        object: child.object,
        oldObject: null,
        user: controllerUser(child.controller),
        controller: child.controller,
        parent: parentResult.index,
        depth,
      });
      if (r.outcome === 'allowed') await followChain(r, child.object, m, depth + 1);
    }
  };

  for (const p of planned) {
    const r = await submit({
      m: p.m,
      resource: p.m.resource,
      operation: o.operation,
      namespace: p.namespace,
      name: p.name,
      requestName: p.requestName,
      object: p.object,
      oldObject: p.oldObject,
      user: o.user,
      parent: null,
      depth: 0,
      fieldManager: KUBECTL_FIELD_MANAGER,
    });
    // a dry run stores nothing, so no controller ever sees the object
    if (r.outcome !== 'allowed' || o.dryRun || !p.object) continue;
    if (o.operation === 'CREATE' || rollsOut(p.object, p.oldObject)) await followChain(r, p.object, p.m, 1);
  }
  return results;
}
