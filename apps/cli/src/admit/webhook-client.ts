import * as https from 'node:https';

/** kube-apiserver's default webhook timeout (ValidatingWebhookConfiguration timeoutSeconds). */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Largest answer read: an AdmissionReview response is small (warnings are capped at a few KB). */
const MAX_ANSWER_BYTES = 3 * 1024 * 1024;

export interface WebhookTarget {
  readonly url: URL;
  /** PEM CA bundle to trust (as the webhook configuration's caBundle); none: the system roots. */
  readonly ca?: string;
  /** The name the certificate must carry, when it differs from the URL's host (a port-forward to `<svc>.<ns>.svc`). */
  readonly serverName?: string;
  readonly timeoutMs: number;
}

export interface AdmissionResponse {
  readonly allowed: boolean;
  readonly status?: { readonly code?: number; readonly reason?: string; readonly message?: string };
  readonly warnings?: readonly string[];
  readonly auditAnnotations?: Readonly<Record<string, string>>;
}

export type WebhookAnswer =
  { readonly ok: true; readonly response: AdmissionResponse } | { readonly ok: false; readonly error: string };

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]+$/u;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks an answer as kube-apiserver does (webhook/request/admissionreview.go): an
 * AdmissionReview of the version sent, with the request's uid and a response.
 */
export function readAnswer(status: number, body: string, uid: string): WebhookAnswer {
  if (status < 200 || status > 299) return { ok: false, error: `the server responded with HTTP ${status}` };
  let review: unknown;
  try {
    review = JSON.parse(body);
  } catch {
    return { ok: false, error: 'the answer is not JSON (expected an AdmissionReview)' };
  }
  if (!isObj(review) || review['apiVersion'] !== 'admission.k8s.io/v1' || review['kind'] !== 'AdmissionReview')
    return { ok: false, error: `expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview` };
  const response = review['response'];
  if (!isObj(response)) return { ok: false, error: 'webhook response was absent' };
  if (response['uid'] !== uid)
    return {
      ok: false,
      error: `expected response.uid=${JSON.stringify(uid)}, got ${JSON.stringify(response['uid'] ?? '')}`,
    };
  // kube-apiserver drops a warning that is empty or not printable text (warning.IsValidWarning): it becomes an HTTP header
  const warnings = Array.isArray(response['warnings'])
    ? response['warnings'].filter((w): w is string => typeof w === 'string' && PRINTABLE.test(w))
    : undefined;
  const st = isObj(response['status']) ? response['status'] : undefined;
  return {
    ok: true,
    response: {
      allowed: response['allowed'] === true,
      ...(st
        ? {
            status: {
              ...(typeof st['code'] === 'number' ? { code: st['code'] } : {}),
              ...(typeof st['reason'] === 'string' ? { reason: st['reason'] } : {}),
              ...(typeof st['message'] === 'string' ? { message: st['message'] } : {}),
            },
          }
        : {}),
      ...(warnings?.length ? { warnings } : {}),
      ...(isObj(response['auditAnnotations'])
        ? { auditAnnotations: response['auditAnnotations'] as Record<string, string> }
        : {}),
    },
  };
}

/**
 * POSTs one AdmissionReview over TLS (certificate verified: there is no switch to skip
 * it, kube-apiserver has none either) and reads the answer within the timeout. A webhook
 * that cannot be called is an answer too: `{ ok: false, error }`.
 */
export function postReview(
  target: WebhookTarget,
  review: Record<string, unknown>,
  agent?: https.Agent,
): Promise<WebhookAnswer> {
  const uid = String((review['request'] as { uid?: unknown }).uid ?? '');
  const body = JSON.stringify(review);
  return new Promise((resolve) => {
    let settled = false;
    const done = (a: WebhookAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(a);
    };
    const req = https.request(
      target.url,
      {
        method: 'POST',
        ...(target.ca ? { ca: target.ca } : {}),
        // Node verifies the certificate against servername when it is set, as kube-apiserver does against the service's DNS name
        ...(target.serverName ? { servername: target.serverName } : {}),
        ...(agent ? { agent } : {}),
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, */*',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'kube-apiserver-admission',
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) {
            req.destroy();
            done({ ok: false, error: `the answer is larger than ${MAX_ANSWER_BYTES} bytes` });
          } else chunks.push(c);
        });
        res.on('end', () => done(readAnswer(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), uid)));
        res.on('error', (err) => done({ ok: false, error: err.message }));
      },
    );
    // kube-apiserver's whole-call deadline: connection, TLS, request and answer together
    const timer = setTimeout(() => {
      req.destroy();
      done({ ok: false, error: 'context deadline exceeded' });
    }, target.timeoutMs);
    req.on('error', (err) => done({ ok: false, error: err.message }));
    req.end(body);
  });
}
