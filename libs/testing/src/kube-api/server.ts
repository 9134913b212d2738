import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { testTls } from '../pki';
import { tempDir } from '../agent-env';
import { apiVersionOf, byKind, byPlural, groupList, resourceList, RESOURCES, type ResourceType } from './resources';
import { parseLabelSelector, SelectorError, type LabelPredicate } from './selectors';

/** A Kubernetes object as stored and served: JSON with apiVersion, kind and metadata. */
export type KubeObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & { name: string; namespace?: string };
};

export type WriteVerb = 'create' | 'update' | 'patch' | 'delete';

/** What a write asked for, as `refuse` predicates see it. */
export interface WriteRequest {
  readonly verb: WriteVerb;
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly body?: Readonly<Record<string, unknown>>;
  readonly fieldManager?: string;
}

/** A Kubernetes Status: the body of every error the stand-in answers. */
export interface StatusAnswer {
  readonly code: number;
  readonly reason: string;
  readonly message: string;
}

export interface ServedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly contentType?: string;
  readonly fieldManager?: string;
}

export interface KubeApiOptions {
  /** How often open watches that asked for bookmarks get one (default 1 s). */
  readonly bookmarkIntervalMs?: number;
  /** Watch events kept for resuming; older resource versions answer 410 Expired (default 50,000). */
  readonly historyLimit?: number;
}

export interface KubeApiStandIn {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  /** CA (PEM) of the stand-in's serving certificate. */
  readonly caPem: string;
  /** The service-account token the stand-in accepts. */
  readonly token: string;
  /**
   * Environment for an agent process: KUBERNETES_SERVICE_HOST/PORT and the root under which
   * var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace} were written.
   */
  readonly agentEnv: Readonly<Record<string, string>>;
  /** A client-node KubeConfig for the test's own client. */
  kubeConfig(): KubeConfig;
  /** Creates or replaces an object (uid, resourceVersion, creationTimestamp kept or filled); watchers see it. */
  put(obj: Readonly<Record<string, unknown>>): KubeObject;
  /** Deletes an object; watchers get DELETED. False when it was not there. */
  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): boolean;
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined;
  list(apiVersion: string, kind: string, namespace?: string): KubeObject[];
  /** Writes matching `when` answer `status` until the returned function is called. */
  refuse(when: (req: WriteRequest) => boolean, status: StatusAnswer): () => void;
  /** As etcd compaction: open watches end with a 410 Expired event, and older resource versions and continue tokens expire. */
  expireWatches(): void;
  /** Body of GET /metrics (Prometheus text format). */
  setMetrics(text: string): void;
  /** Every request served, in order. */
  readonly requests: readonly ServedRequest[];
  /** Watches currently open. */
  readonly openWatches: number;
  close(): Promise<void>;
}

interface Change {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly resource: ResourceType;
  readonly object: KubeObject;
  /** The object before a MODIFIED: a watch whose selector stopped or started matching sees DELETED or ADDED. */
  readonly previous?: KubeObject;
}

interface Watcher {
  readonly resource: ResourceType;
  readonly namespace?: string;
  readonly selector: LabelPredicate;
  readonly res: ServerResponse;
  readonly bookmarks: boolean;
  /** Highest resource version written to this watch. */
  rv: number;
  close(): void;
}

interface ListSnapshot {
  readonly rv: number;
  readonly items: KubeObject[];
}

const SERVICE_ACCOUNT_DIR = 'var/run/secrets/kubernetes.io/serviceaccount';

class StatusError extends Error {
  constructor(readonly status: StatusAnswer) {
    super(status.message);
  }
}

const notFound = (r: ResourceType, name: string): StatusError =>
  new StatusError({
    code: 404,
    reason: 'NotFound',
    message: `${r.plural}${r.group ? `.${r.group}` : ''} "${name}" not found`,
  });

const badRequest = (message: string): StatusError => new StatusError({ code: 400, reason: 'BadRequest', message });

function statusBody(s: StatusAnswer): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: s.message,
    reason: s.reason,
    code: s.code,
  };
}

const clone = <T>(v: T): T => structuredClone(v);

const keyOf = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * Server-side apply for one field manager: fields the manager applied before and no longer
 * applies are removed, maps merge, lists and scalars are replaced (the stand-in treats every
 * list as atomic; conflicts with other managers' fields are not modelled).
 */
function applyConfig(live: unknown, applied: unknown, previous: unknown): unknown {
  if (!isPlainObject(applied) || !isPlainObject(live)) return clone(applied);
  const out: Record<string, unknown> = { ...live };
  if (isPlainObject(previous)) {
    for (const k of Object.keys(previous)) if (!(k in applied)) delete out[k];
  }
  for (const [k, v] of Object.entries(applied)) {
    out[k] = applyConfig(out[k], v, isPlainObject(previous) ? previous[k] : undefined);
  }
  return out;
}

/** managedFields' FieldsV1 of an applied configuration: `f:<field>` per map key, lists as one field. */
function fieldsV1(applied: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isPlainObject(applied)) return out;
  for (const [k, v] of Object.entries(applied)) {
    if (k === 'apiVersion' || k === 'kind') continue;
    out[`f:${k}`] = isPlainObject(v) ? fieldsV1(v) : {};
  }
  return out;
}

class KubeApiServer implements KubeApiStandIn {
  readonly requests: ServedRequest[] = [];
  readonly token = randomBytes(24).toString('base64url');
  readonly caPem: string;
  agentEnv: Readonly<Record<string, string>> = {};
  url = '';

  private readonly tls = testTls();
  private readonly server: https.Server;
  private readonly store = new Map<ResourceType, Map<string, KubeObject>>();
  /** Last configuration each field manager applied, per object. */
  private readonly applied = new Map<string, Map<string, unknown>>();
  private readonly history: Change[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly snapshots = new Map<string, ListSnapshot>();
  private readonly refusals: Array<{ when: (req: WriteRequest) => boolean; status: StatusAnswer }> = [];
  private readonly bookmarkTimer: NodeJS.Timeout;
  private rv = 1000;
  /** Resource versions at or below this are gone, as after an etcd compaction. */
  private compactedRv = 0;
  private metrics = '';

  constructor(private readonly options: KubeApiOptions) {
    this.caPem = this.tls.caPem;
    for (const r of RESOURCES) this.store.set(r, new Map());
    this.server = https.createServer({ cert: this.tls.certPem, key: this.tls.keyPem }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.sendStatus(res, { code: 500, reason: 'InternalError', message: String(err) });
        else res.destroy();
      });
    });
    this.bookmarkTimer = setInterval(() => this.sendBookmarks(), options.bookmarkIntervalMs ?? 1000);
    this.bookmarkTimer.unref();
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `https://127.0.0.1:${port}`;
    const root = tempDir('portcullis-kube-');
    const dir = path.join(root, SERVICE_ACCOUNT_DIR);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'token'), this.token);
    fs.writeFileSync(path.join(dir, 'ca.crt'), this.caPem);
    fs.writeFileSync(path.join(dir, 'namespace'), 'portcullis-system');
    this.agentEnv = {
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: String(port),
      PORTCULLIS_KUBE_SERVICEACCOUNT_ROOT: root,
    };
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'stand-in', server: this.url, caData: Buffer.from(this.caPem).toString('base64') }],
      users: [{ name: 'test', token: this.token }],
      contexts: [{ name: 'stand-in', cluster: 'stand-in', user: 'test' }],
      currentContext: 'stand-in',
    });
    return kc;
  }

  // --- direct store access for tests --------------------------------------------------------

  put(obj: Readonly<Record<string, unknown>>): KubeObject {
    const r = this.resourceOfObject(obj);
    const meta = isPlainObject(obj['metadata']) ? obj['metadata'] : {};
    const name = meta['name'];
    if (typeof name !== 'string' || !name) throw new Error('put: metadata.name is required');
    const namespace = r.namespaced ? String(meta['namespace'] ?? 'default') : undefined;
    const existing = this.store.get(r)!.get(keyOf(namespace, name));
    return this.write(r, namespace, name, clone(obj) as KubeObject, existing);
  }

  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): boolean {
    const r = this.resourceOf(apiVersion, kind);
    const ns = r.namespaced ? (namespace ?? 'default') : undefined;
    if (!this.store.get(r)!.has(keyOf(ns, name))) return false;
    this.delete(r, ns, name);
    return true;
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const r = this.resourceOf(apiVersion, kind);
    const found = this.store.get(r)!.get(keyOf(r.namespaced ? (namespace ?? 'default') : undefined, name));
    return found && clone(found);
  }

  list(apiVersion: string, kind: string, namespace?: string): KubeObject[] {
    const r = this.resourceOf(apiVersion, kind);
    return this.sorted(r, namespace).map(clone);
  }

  refuse(when: (req: WriteRequest) => boolean, status: StatusAnswer): () => void {
    const entry = { when, status };
    this.refusals.push(entry);
    return () => {
      const i = this.refusals.indexOf(entry);
      if (i >= 0) this.refusals.splice(i, 1);
    };
  }

  expireWatches(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
    this.snapshots.clear();
    for (const w of [...this.watchers]) {
      this.writeEvent(w, { type: 'ERROR', object: statusBody(this.tooOld(w.rv)) });
      w.close();
    }
  }

  setMetrics(text: string): void {
    this.metrics = text;
  }

  async close(): Promise<void> {
    clearInterval(this.bookmarkTimer);
    for (const w of [...this.watchers]) w.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // --- the store ------------------------------------------------------------------------------

  private resourceOf(apiVersion: string, kind: string): ResourceType {
    const r = byKind(apiVersion, kind);
    if (!r) throw new Error(`the stand-in does not serve ${apiVersion} ${kind}`);
    return r;
  }

  private resourceOfObject(obj: Readonly<Record<string, unknown>>): ResourceType {
    return this.resourceOf(String(obj['apiVersion']), String(obj['kind']));
  }

  private sorted(r: ResourceType, namespace?: string): KubeObject[] {
    const all = [...this.store.get(r)!.entries()]
      .filter(([, o]) => namespace === undefined || o.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return all.map(([, o]) => o);
  }

  private write(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    obj: KubeObject,
    existing: KubeObject | undefined,
  ): KubeObject {
    const rv = ++this.rv;
    const prevMeta: Record<string, unknown> = existing?.metadata ?? {};
    const meta: KubeObject['metadata'] = {
      ...obj.metadata,
      name,
      ...(namespace !== undefined ? { namespace } : {}),
      uid: prevMeta['uid'] ?? obj.metadata['uid'] ?? randomUUID(),
      resourceVersion: String(rv),
      creationTimestamp: prevMeta['creationTimestamp'] ?? obj.metadata['creationTimestamp'] ?? new Date().toISOString(),
      generation:
        existing && JSON.stringify(existing['spec']) !== JSON.stringify(obj['spec'])
          ? Number(prevMeta['generation'] ?? 1) + 1
          : Number(prevMeta['generation'] ?? 1),
    };
    if (namespace === undefined) delete meta.namespace;
    const stored: KubeObject = { ...obj, apiVersion: apiVersionOf(r), kind: r.kind, metadata: meta };
    this.store.get(r)!.set(keyOf(namespace, name), stored);
    this.record({ rv, type: existing ? 'MODIFIED' : 'ADDED', resource: r, object: stored, previous: existing });
    return clone(stored);
  }

  private delete(r: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const key = keyOf(namespace, name);
    const existing = this.store.get(r)!.get(key);
    if (!existing) throw notFound(r, name);
    this.store.get(r)!.delete(key);
    this.applied.delete(`${r.plural}.${r.group}/${key}`);
    const rv = ++this.rv;
    const gone: KubeObject = { ...existing, metadata: { ...existing.metadata, resourceVersion: String(rv) } };
    this.record({ rv, type: 'DELETED', resource: r, object: gone });
    return clone(gone);
  }

  private record(change: Change): void {
    this.history.push(change);
    const limit = this.options.historyLimit ?? 50_000;
    if (this.history.length > limit) {
      const dropped = this.history.splice(0, this.history.length - limit);
      this.compactedRv = dropped[dropped.length - 1]!.rv;
    }
    for (const w of this.watchers) this.deliver(w, change);
  }

  // --- watches ----------------------------------------------------------------------------------

  private deliver(w: Watcher, c: Change): void {
    if (c.resource !== w.resource) return;
    if (w.namespace !== undefined && c.object.metadata.namespace !== w.namespace) return;
    const labels = (o: KubeObject | undefined) => o?.metadata['labels'] as Record<string, string> | undefined;
    const now = w.selector(labels(c.object));
    let type: string = c.type;
    if (c.type === 'MODIFIED') {
      const before = w.selector(labels(c.previous));
      if (!now && !before) return;
      if (!now) type = 'DELETED';
      else if (!before) type = 'ADDED';
    } else if (!now) return;
    this.writeEvent(w, { type, object: this.served(c.object) });
    w.rv = c.rv;
  }

  private writeEvent(w: Watcher, event: Record<string, unknown>): void {
    if (!w.res.writableEnded) w.res.write(`${JSON.stringify(event)}\n`);
  }

  private sendBookmarks(): void {
    for (const w of this.watchers) {
      if (!w.bookmarks) continue;
      w.rv = Math.max(w.rv, this.rv);
      this.writeEvent(w, {
        type: 'BOOKMARK',
        object: {
          kind: w.resource.kind,
          apiVersion: apiVersionOf(w.resource),
          metadata: { resourceVersion: String(w.rv), annotations: { 'k8s.io/initial-events-end': 'true' } },
        },
      });
    }
  }

  private tooOld(rv: number): StatusAnswer {
    return { code: 410, reason: 'Expired', message: `too old resource version: ${rv} (${this.compactedRv})` };
  }

  private startWatch(
    r: ResourceType,
    namespace: string | undefined,
    query: URLSearchParams,
    req: IncomingMessage,
    res: ServerResponse,
  ): void {
    const selector = parseLabelSelector(query.get('labelSelector'));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const from = query.get('resourceVersion');
    let timer: NodeJS.Timeout | undefined;
    const w: Watcher = {
      resource: r,
      namespace,
      selector,
      res,
      bookmarks: query.get('allowWatchBookmarks') === 'true',
      rv: 0,
      close: () => {
        if (timer) clearTimeout(timer);
        this.watchers.delete(w);
        if (!res.writableEnded) res.end();
      },
    };
    req.on('close', () => w.close());
    const timeout = Number(query.get('timeoutSeconds') ?? '');
    if (Number.isInteger(timeout) && timeout > 0) timer = setTimeout(() => w.close(), timeout * 1000);
    if (!from || from === '0') {
      // as the API server: synthetic ADDED events for what exists, then changes
      for (const o of this.sorted(r, namespace)) {
        if (selector(o.metadata['labels'] as Record<string, string> | undefined))
          this.writeEvent(w, { type: 'ADDED', object: this.served(o) });
      }
      w.rv = this.rv;
    } else {
      const since = Number(from);
      if (!Number.isInteger(since) || since < this.compactedRv) {
        w.rv = since;
        this.writeEvent(w, { type: 'ERROR', object: statusBody(this.tooOld(since)) });
        w.close();
        return;
      }
      w.rv = since;
      this.watchers.add(w);
      for (const c of this.history) if (c.rv > since) this.deliver(w, c);
      return;
    }
    this.watchers.add(w);
  }

  // --- HTTP ---------------------------------------------------------------------------------------

  /** Objects as the API server serves them. */
  private served(o: KubeObject): KubeObject {
    return clone(o);
  }

  private sendJson(res: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private sendStatus(res: ServerResponse, s: StatusAnswer): void {
    this.sendJson(res, s.code, statusBody(s));
  }

  private async readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url || 'https://127.0.0.1');
    const query = url.searchParams;
    const contentType = req.headers['content-type']?.split(';')[0]?.trim();
    this.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(query.entries()),
      ...(contentType ? { contentType } : {}),
      ...(query.get('fieldManager') ? { fieldManager: query.get('fieldManager')! } : {}),
    });
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      await this.readBody(req);
      return this.sendStatus(res, { code: 401, reason: 'Unauthorized', message: 'Unauthorized' });
    }
    try {
      await this.route(req, res, url.pathname, query, contentType);
    } catch (err) {
      if (err instanceof StatusError) return this.sendStatus(res, err.status);
      if (err instanceof SelectorError)
        return this.sendStatus(res, { code: 400, reason: 'BadRequest', message: err.message });
      throw err;
    }
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    pathname: string,
    query: URLSearchParams,
    contentType: string | undefined,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const segments = pathname.split('/').filter(Boolean);
    if (method === 'GET') {
      if (pathname === '/metrics') {
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
        res.end(this.metrics);
        return;
      }
      if (pathname === '/version')
        return this.sendJson(res, 200, { major: '1', minor: '32', gitVersion: 'v1.32.0-portcullis-stand-in' });
      if (pathname === '/api')
        return this.sendJson(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
      if (pathname === '/apis') return this.sendJson(res, 200, groupList());
    }
    let group: string;
    let version: string;
    let rest: string[];
    if (segments[0] === 'api' && segments.length >= 2) {
      group = '';
      version = segments[1]!;
      rest = segments.slice(2);
    } else if (segments[0] === 'apis' && segments.length >= 3) {
      group = segments[1]!;
      version = segments[2]!;
      rest = segments.slice(3);
    } else throw new StatusError({ code: 404, reason: 'NotFound', message: `the server could not find ${pathname}` });

    if (rest.length === 0 && method === 'GET') {
      const list = resourceList(group, version);
      if (!list)
        throw new StatusError({ code: 404, reason: 'NotFound', message: `no resources in ${group}/${version}` });
      return this.sendJson(res, 200, list);
    }
    // [namespaces/<ns>/]<plural>[/<name>]
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, subresource] = rest as [string, string | undefined, string | undefined];
    const r = byPlural(group, version, plural);
    if (!r || subresource !== undefined)
      throw new StatusError({ code: 404, reason: 'NotFound', message: `the server could not find ${pathname}` });
    if (!r.namespaced && namespace !== undefined)
      throw new StatusError({ code: 404, reason: 'NotFound', message: `${r.plural} is not namespaced` });
    if (r.namespaced && name !== undefined && namespace === undefined && method !== 'GET')
      throw badRequest(`${r.plural} is namespaced: the path needs /namespaces/<namespace>/`);

    if (name === undefined) {
      if (method === 'GET') {
        if (query.get('watch') === 'true' || query.get('watch') === '1')
          return this.startWatch(r, namespace, query, req, res);
        return this.sendJson(res, 200, this.listPage(r, namespace, query));
      }
      if (method === 'POST') {
        const body = this.parseBody(await this.readBody(req), contentType);
        return this.create(res, r, namespace, body, query);
      }
      throw new StatusError({
        code: 405,
        reason: 'MethodNotAllowed',
        message: `${method} is not supported on a collection`,
      });
    }

    const key = keyOf(r.namespaced ? namespace : undefined, name);
    const existing = this.store.get(r)!.get(key);
    switch (method) {
      case 'GET':
        if (!existing) throw notFound(r, name);
        return this.sendJson(res, 200, this.served(existing));
      case 'PUT': {
        const body = this.parseBody(await this.readBody(req), contentType);
        this.checkRefusal({ verb: 'update', r, namespace, name, body, query });
        if (!existing) throw notFound(r, name);
        const meta = isPlainObject(body['metadata']) ? body['metadata'] : {};
        if (meta['name'] !== undefined && meta['name'] !== name)
          throw badRequest(
            `metadata.name: the name of the object (${String(meta['name'])}) does not match the name on the URL (${name})`,
          );
        if (meta['resourceVersion'] !== undefined && meta['resourceVersion'] !== existing.metadata['resourceVersion'])
          throw new StatusError({
            code: 409,
            reason: 'Conflict',
            message: `Operation cannot be fulfilled on ${r.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          });
        return this.sendJson(
          res,
          200,
          this.write(r, r.namespaced ? namespace : undefined, name, this.asObject(r, body, name), existing),
        );
      }
      case 'PATCH': {
        const body = this.parseBody(await this.readBody(req), contentType);
        return this.patch(res, r, r.namespaced ? namespace : undefined, name, existing, body, contentType, query);
      }
      case 'DELETE': {
        await this.readBody(req);
        this.checkRefusal({ verb: 'delete', r, namespace, name, query });
        return this.sendJson(res, 200, this.delete(r, r.namespaced ? namespace : undefined, name));
      }
      default:
        throw new StatusError({ code: 405, reason: 'MethodNotAllowed', message: `${method} is not supported` });
    }
  }

  private listPage(r: ResourceType, namespace: string | undefined, query: URLSearchParams): Record<string, unknown> {
    const selector = parseLabelSelector(query.get('labelSelector'));
    const limitText = query.get('limit');
    const limit = limitText ? Number(limitText) : 0;
    if (limitText && (!Number.isInteger(limit) || limit < 0)) throw badRequest(`limit: must be a non-negative integer`);
    const token = query.get('continue');
    let snapshot: ListSnapshot;
    let offset = 0;
    if (token) {
      const [id, at] = Buffer.from(token, 'base64url').toString('utf8').split(':');
      const found = id ? this.snapshots.get(id) : undefined;
      if (!found)
        throw new StatusError({
          code: 410,
          reason: 'Expired',
          message:
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        });
      snapshot = found;
      offset = Number(at);
    } else {
      snapshot = {
        rv: this.rv,
        items: this.sorted(r, namespace).filter((o) =>
          selector(o.metadata['labels'] as Record<string, string> | undefined),
        ),
      };
    }
    const end = limit > 0 ? Math.min(offset + limit, snapshot.items.length) : snapshot.items.length;
    const metadata: Record<string, unknown> = { resourceVersion: String(snapshot.rv) };
    if (end < snapshot.items.length) {
      const id = token ? Buffer.from(token, 'base64url').toString('utf8').split(':')[0]! : randomUUID();
      this.snapshots.set(id, snapshot);
      metadata['continue'] = Buffer.from(`${id}:${end}`).toString('base64url');
      metadata['remainingItemCount'] = snapshot.items.length - end;
    }
    // list items carry no apiVersion and kind, as the API server serves them
    const items = snapshot.items.slice(offset, end).map((o) => {
      const { apiVersion: _v, kind: _k, ...rest } = this.served(o);
      return rest;
    });
    return { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata, items };
  }

  private parseBody(text: string, contentType: string | undefined): Record<string, unknown> {
    let value: unknown;
    try {
      value = contentType === 'application/apply-patch+yaml' ? parseYaml(text) : JSON.parse(text);
    } catch (err) {
      throw badRequest(`the request body is not valid ${contentType ?? 'JSON'}: ${(err as Error).message}`);
    }
    if (!isPlainObject(value)) throw badRequest('the request body must be an object');
    return value;
  }

  private asObject(r: ResourceType, body: Record<string, unknown>, name: string): KubeObject {
    if (body['apiVersion'] !== undefined && body['apiVersion'] !== apiVersionOf(r))
      throw badRequest(`apiVersion: ${String(body['apiVersion'])} does not match ${apiVersionOf(r)}`);
    if (body['kind'] !== undefined && body['kind'] !== r.kind)
      throw badRequest(`kind: ${String(body['kind'])} does not match ${r.kind}`);
    const metadata = isPlainObject(body['metadata']) ? body['metadata'] : {};
    return { ...body, apiVersion: apiVersionOf(r), kind: r.kind, metadata: { ...metadata, name } } as KubeObject;
  }

  private checkRefusal(args: {
    verb: WriteVerb;
    r: ResourceType;
    namespace: string | undefined;
    name: string | undefined;
    body?: Record<string, unknown>;
    query: URLSearchParams;
  }): void {
    const req: WriteRequest = {
      verb: args.verb,
      apiVersion: apiVersionOf(args.r),
      kind: args.r.kind,
      ...(args.namespace !== undefined ? { namespace: args.namespace } : {}),
      ...(args.name !== undefined ? { name: args.name } : {}),
      ...(args.body ? { body: args.body } : {}),
      ...(args.query.get('fieldManager') ? { fieldManager: args.query.get('fieldManager')! } : {}),
    };
    const hit = this.refusals.find((x) => x.when(req));
    if (hit) throw new StatusError(hit.status);
  }

  private create(
    res: ServerResponse,
    r: ResourceType,
    namespace: string | undefined,
    body: Record<string, unknown>,
    query: URLSearchParams,
  ): void {
    const meta = isPlainObject(body['metadata']) ? body['metadata'] : {};
    let name = typeof meta['name'] === 'string' ? meta['name'] : '';
    if (!name && typeof meta['generateName'] === 'string')
      name = `${meta['generateName']}${randomBytes(3).toString('hex').slice(0, 5)}`;
    if (!name)
      throw new StatusError({
        code: 422,
        reason: 'Invalid',
        message: `${r.kind} is invalid: metadata.name: Required value: name or generateName is required`,
      });
    const ns = r.namespaced
      ? (namespace ?? (typeof meta['namespace'] === 'string' ? meta['namespace'] : 'default'))
      : undefined;
    this.checkRefusal({ verb: 'create', r, namespace: ns, name, body, query });
    if (this.store.get(r)!.has(keyOf(ns, name)))
      throw new StatusError({ code: 409, reason: 'AlreadyExists', message: `${r.plural} "${name}" already exists` });
    this.sendJson(res, 201, this.write(r, ns, name, this.asObject(r, body, name), undefined));
  }

  private patch(
    res: ServerResponse,
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    existing: KubeObject | undefined,
    body: Record<string, unknown>,
    contentType: string | undefined,
    query: URLSearchParams,
  ): void {
    this.checkRefusal({ verb: 'patch', r, namespace, name, body, query });
    if (contentType === 'application/merge-patch+json') {
      if (!existing) throw notFound(r, name);
      const merged = mergePatch(existing, body) as KubeObject;
      return this.sendJson(res, 200, this.write(r, namespace, name, this.asObject(r, merged, name), existing));
    }
    if (contentType !== 'application/apply-patch+yaml')
      throw new StatusError({
        code: 415,
        reason: 'UnsupportedMediaType',
        message: `the stand-in serves application/apply-patch+yaml and application/merge-patch+json patches, not ${contentType ?? 'none'}`,
      });
    const manager = query.get('fieldManager');
    if (!manager)
      throw new StatusError({
        code: 400,
        reason: 'BadRequest',
        message: 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      });
    const object = this.asObject(r, body, name);
    const appliedKey = `${r.plural}.${r.group}/${keyOf(namespace, name)}`;
    const managers = this.applied.get(appliedKey) ?? new Map<string, unknown>();
    const { metadata: appliedMeta, ...appliedRest } = object;
    const { managedFields: _m, resourceVersion: _rv, uid: _uid, ...appliedMetaRest } = appliedMeta;
    const appliedConfig = { ...appliedRest, metadata: appliedMetaRest };
    const base: Record<string, unknown> = existing ?? { apiVersion: apiVersionOf(r), kind: r.kind, metadata: { name } };
    const merged = applyConfig(base, appliedConfig, managers.get(manager)) as KubeObject;
    const others = ((existing?.metadata['managedFields'] as Array<Record<string, unknown>> | undefined) ?? []).filter(
      (f) => f['manager'] !== manager || f['operation'] !== 'Apply',
    );
    merged.metadata = {
      ...merged.metadata,
      managedFields: [
        ...others,
        {
          manager,
          operation: 'Apply',
          apiVersion: apiVersionOf(r),
          time: new Date().toISOString(),
          fieldsType: 'FieldsV1',
          fieldsV1: fieldsV1(appliedConfig),
        },
      ],
    };
    const stored = this.write(r, namespace, name, merged, existing);
    managers.set(manager, clone(appliedConfig));
    this.applied.set(appliedKey, managers);
    this.sendJson(res, existing ? 200 : 201, stored);
  }
}

/** Starts a stand-in Kubernetes API over HTTPS on 127.0.0.1 (see KubeApiStandIn). */
export async function startKubeApi(options: KubeApiOptions = {}): Promise<KubeApiStandIn> {
  const server = new KubeApiServer(options);
  await server.start();
  return server;
}
