import * as http from 'node:http';
import * as https from 'node:https';
import { gunzipSync } from 'node:zlib';

export interface ApiResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface ApiRequest {
  readonly method: 'GET' | 'POST';
  /** Path and query below the API URL, e.g. `/agent/v1/bundle?waitSeconds=30`. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  /** The whole exchange, connect to last byte; the request is aborted after it. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** A failure to talk to the API (no answer, timeout, abort): distinct from an answer with an error status. */
export class ApiUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiUnreachableError';
  }
}

const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/**
 * The agent's only HTTP client (the CLI demo uploads its clusters' past admissions with it
 * too): keep-alive connections to the API, the cluster credential on every request, hard
 * deadlines. Answers of any status are returned;
 * only transport failures throw (ApiUnreachableError).
 */
export class ApiClient {
  private readonly agent: http.Agent;
  private readonly base: URL;

  constructor(
    apiUrl: URL,
    private readonly token: string,
    private readonly clusterId: string,
    private readonly userAgent: string,
    ca?: string,
  ) {
    this.base = apiUrl;
    const options = { keepAlive: true, maxSockets: 16, ...(ca ? { ca } : {}) };
    this.agent = apiUrl.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
  }

  request(req: ApiRequest): Promise<ApiResponse> {
    const url = new URL(this.base.pathname.replace(/\/$/, '') + req.path, this.base);
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise<ApiResponse>((resolve, reject) => {
      let settled = false;
      const fail = (message: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        outgoing.destroy();
        reject(new ApiUnreachableError(message));
      };
      const onAbort = () => fail(`${req.method} ${req.path}: aborted`);
      const outgoing = transport.request(url, {
        method: req.method,
        agent: this.agent,
        headers: {
          authorization: `Bearer ${this.token}`,
          'x-portcullis-cluster': this.clusterId,
          'user-agent': this.userAgent,
          accept: 'application/json',
          'accept-encoding': 'gzip',
          ...(req.body ? { 'content-length': String(req.body.length) } : {}),
          ...req.headers,
        },
      });
      const timer = setTimeout(
        () => fail(`${req.method} ${req.path}: no complete answer within ${req.timeoutMs} ms`),
        req.timeoutMs,
      );
      timer.unref?.();
      req.signal?.addEventListener('abort', onAbort, { once: true });
      outgoing.on('error', (err: NodeJS.ErrnoException) =>
        fail(`${req.method} ${url.origin}${req.path}: ${err.code ?? err.message}`),
      );
      outgoing.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES)
            fail(`${req.method} ${req.path}: answer larger than ${MAX_RESPONSE_BYTES} bytes`);
          else chunks.push(c);
        });
        res.on('error', (err: Error) => fail(`${req.method} ${req.path}: ${err.message}`));
        res.on('end', () => {
          if (settled) return;
          let body = Buffer.concat(chunks);
          if (res.headers['content-encoding'] === 'gzip' && body.length > 0) {
            try {
              body = gunzipSync(body, { maxOutputLength: MAX_RESPONSE_BYTES });
            } catch {
              fail(`${req.method} ${req.path}: the answer is not valid gzip`);
              return;
            }
          }
          settled = true;
          clearTimeout(timer);
          req.signal?.removeEventListener('abort', onAbort);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      });
      outgoing.end(req.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A short, log-safe description of an error answer: the API's message when it sent one. */
export function describeAnswer(res: ApiResponse): string {
  const text = res.body.toString('utf8', 0, Math.min(res.body.length, 2000));
  try {
    const parsed = JSON.parse(text) as { message?: unknown; errors?: unknown };
    if (typeof parsed.message === 'string') return `HTTP ${res.status}: ${parsed.message.slice(0, 500)}`;
  } catch {
    // not JSON: the status says enough
  }
  return `HTTP ${res.status}`;
}
