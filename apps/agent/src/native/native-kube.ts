import {
  AdmissionregistrationV1Api,
  ApiException,
  HttpMethod,
  KubernetesObjectApi,
  PatchStrategy,
  ServerConfiguration,
  createConfiguration,
  type Configuration,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';

/** Every object the agent writes carries it; listing and deleting only ever select by it. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'portcullis-agent';
export const FIELD_MANAGER = 'portcullis-agent';
export const VAP_API_VERSION = 'admissionregistration.k8s.io/v1';
export const VAP_KINDS = ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'] as const;
export type VapKind = (typeof VAP_KINDS)[number];

export interface ClusterObject {
  readonly kind: VapKind;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly resourceVersion: string;
}

/** What went wrong talking to the Kubernetes API, as values the reconciler reports. */
export class KubeRequestError extends Error {
  constructor(
    message: string,
    /** HTTP status, or 0 when no answer came (network, timeout, TLS). */
    readonly status: number,
  ) {
    super(message);
    this.name = 'KubeRequestError';
  }

  /** The API could not be reached or is overloaded: retry the whole pass later. */
  get unavailable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

const MAX_PAGES = 1000;

interface ObjectList {
  readonly items: ReadonlyArray<{
    readonly metadata?: { name?: string; labels?: Record<string, string>; resourceVersion?: string };
  }>;
  readonly metadata?: { _continue?: string };
}

/**
 * The Kubernetes calls of native enforcement, through @kubernetes/client-node with the
 * pod's service account: server-side apply, list by our label, delete, and kube-apiserver's
 * /metrics. Each request has a deadline, so a hung API server delays a pass, never stops it.
 */
export class NativeKube {
  private readonly config: Configuration;
  private readonly objects: KubernetesObjectApi;
  private readonly admission: AdmissionregistrationV1Api;

  constructor(
    private readonly kc: KubeConfig,
    private readonly timeoutMs: number,
  ) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the Kubernetes configuration names no cluster');
    this.config = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      promiseMiddleware: [
        {
          pre: (ctx) => {
            ctx.setSignal(AbortSignal.timeout(timeoutMs));
            return Promise.resolve(ctx);
          },
          post: (res) => Promise.resolve(res),
        },
      ],
    });
    this.objects = new KubernetesObjectApi(this.config);
    this.admission = new AdmissionregistrationV1Api(this.config);
  }

  /** Server-side apply, force: the agent owns every field it sends (label-checked by the caller). The stored resourceVersion. */
  async apply(obj: Record<string, unknown>): Promise<string> {
    const stored = await call(`apply ${describe(obj)}`, () =>
      this.objects.patch(
        obj as KubernetesObject,
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      ),
    );
    return stored.metadata?.resourceVersion ?? '';
  }

  /** The labels of one object by name, or null when there is none. */
  async labelsOf(kind: VapKind, name: string): Promise<Readonly<Record<string, string>> | null> {
    try {
      const o = await call<{ metadata?: { labels?: Record<string, string> } }>(`read ${kind} ${name}`, () =>
        kind === 'ValidatingAdmissionPolicy'
          ? this.admission.readValidatingAdmissionPolicy({ name })
          : this.admission.readValidatingAdmissionPolicyBinding({ name }),
      );
      return o.metadata?.labels ?? {};
    } catch (err) {
      if (err instanceof KubeRequestError && err.status === 404) return null;
      throw err;
    }
  }

  /** Every object of the kind labelled as ours (paged; an expired continue token restarts the list). */
  async listManaged(kind: VapKind): Promise<ClusterObject[]> {
    const labelSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
    for (let attempt = 0; ; attempt++) {
      const out: ClusterObject[] = [];
      let cont: string | undefined;
      try {
        for (let page = 0; page < MAX_PAGES; page++) {
          const param = { labelSelector, limit: 500, ...(cont ? { _continue: cont } : {}) };
          const list = await call<ObjectList>(`list ${kind}`, () =>
            kind === 'ValidatingAdmissionPolicy'
              ? this.admission.listValidatingAdmissionPolicy(param)
              : this.admission.listValidatingAdmissionPolicyBinding(param),
          );
          for (const item of list.items) {
            const name = item.metadata?.name;
            if (name)
              out.push({
                kind,
                name,
                labels: item.metadata?.labels ?? {},
                resourceVersion: item.metadata?.resourceVersion ?? '',
              });
          }
          cont = list.metadata?._continue || undefined;
          if (!cont) return out;
        }
        throw new KubeRequestError(`list ${kind}: more than ${MAX_PAGES} pages`, 0);
      } catch (err) {
        if (err instanceof KubeRequestError && err.status === 410 && attempt < 2) continue;
        if (err instanceof KubeRequestError && err.status === 404)
          throw new KubeRequestError(
            `${err.message} (this API server does not serve admissionregistration.k8s.io/v1 ${kind}: Kubernetes 1.30 or later is needed)`,
            404,
          );
        throw err;
      }
    }
  }

  /** Deletes one object; already gone is success. */
  async delete(kind: VapKind, name: string): Promise<void> {
    try {
      await call(`delete ${kind} ${name}`, () =>
        kind === 'ValidatingAdmissionPolicy'
          ? this.admission.deleteValidatingAdmissionPolicy({ name })
          : this.admission.deleteValidatingAdmissionPolicyBinding({ name }),
      );
    } catch (err) {
      if (err instanceof KubeRequestError && err.status === 404) return;
      throw err;
    }
  }

  /**
   * The lines of kube-apiserver's /metrics that start with `prefix`, read as a stream: the
   * whole body can be tens of MB on a large cluster, the lines the agent needs a few KB.
   */
  async metricLines(prefix: string, maxBytes: number): Promise<string> {
    const ctx = this.config.baseServer.makeRequestContext('/metrics', HttpMethod.GET);
    ctx.setHeaderParam('Accept', 'text/plain;version=0.0.4');
    await this.kc.applySecurityAuthentication(ctx);
    ctx.setSignal(AbortSignal.timeout(this.timeoutMs));
    let res;
    try {
      res = await this.config.httpApi.send(ctx).toPromise();
    } catch (err) {
      throw new KubeRequestError(`GET /metrics: ${reason(err)}`, 0);
    }
    if (res.httpStatusCode !== 200) {
      const body = await res.body.text().catch(() => '');
      throw new KubeRequestError(
        `GET /metrics: ${res.httpStatusCode} ${statusMessage(body) ?? ''}`.trim(),
        res.httpStatusCode,
      );
    }
    const stream = res.body.stream() as ReadableStream<Uint8Array> | undefined;
    if (!stream) return '';
    const decoder = new TextDecoder();
    let kept = '';
    let partial = '';
    let total = 0;
    try {
      for await (const chunk of stream) {
        total += chunk.byteLength;
        if (total > maxBytes) throw new KubeRequestError(`GET /metrics: the body is over ${maxBytes} bytes`, 0);
        const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n');
        partial = lines.pop()!;
        for (const l of lines) if (l.startsWith(prefix)) kept += l + '\n';
      }
    } catch (err) {
      if (err instanceof KubeRequestError) throw err;
      throw new KubeRequestError(`GET /metrics: ${reason(err)}`, 0);
    }
    partial += decoder.decode();
    if (partial.startsWith(prefix)) kept += partial + '\n';
    return kept;
  }
}

function describe(obj: Record<string, unknown>): string {
  const md = obj['metadata'] as { name?: string } | undefined;
  return `${String(obj['kind'])} ${md?.name ?? '(unnamed)'}`;
}

/** Runs one client-node call; its failures become KubeRequestError with the API's own message. */
async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiException) {
      const body = err.body as unknown;
      const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : '';
      const message = statusMessage(text) ?? (text.slice(0, 200) || 'no message');
      // the likely cause, for whoever reads it in bundleRollout
      const hint =
        err.code === 403 ? ' (the agent lacks RBAC for it: install the chart with nativeEnforcement.enabled=true)' : '';
      return Promise.reject(new KubeRequestError(`${what}: ${err.code} ${message}${hint}`, err.code));
    }
    return Promise.reject(new KubeRequestError(`${what}: ${reason(err)}`, 0));
  }
}

/** The `message` of a Kubernetes Status body. */
function statusMessage(text: string): string | null {
  try {
    const s = JSON.parse(text) as { message?: unknown; reason?: unknown };
    if (typeof s.message === 'string' && s.message) return s.message;
    if (typeof s.reason === 'string' && s.reason) return s.reason;
  } catch {
    // not a Status
  }
  return null;
}

function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'no answer in time';
  return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
}
