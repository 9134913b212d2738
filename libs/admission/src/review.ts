/**
 * admission.k8s.io AdmissionReview: reading what kube-apiserver sends and writing the
 * answer it expects. Whatever arrives, the answer is a well-formed AdmissionReview.
 */

export const REVIEW_API_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type ReviewApiVersion = (typeof REVIEW_API_VERSIONS)[number];

export interface AdmissionRequestView {
  readonly apiVersion: ReviewApiVersion;
  readonly uid: string;
  readonly operation: string;
  readonly kind: string;
  readonly namespace?: string;
  /** request.name: empty on a CREATE with generateName. */
  readonly name: string;
  /** The object admitted (oldObject for DELETE). */
  readonly object: unknown;
  readonly dryRun: boolean;
  readonly username: string;
  readonly groups?: readonly string[];
  readonly subResource?: string;
}

export type ParsedReview =
  | { readonly ok: true; readonly request: AdmissionRequestView }
  | { readonly ok: false; readonly uid: string; readonly apiVersion: ReviewApiVersion; readonly message: string };

export interface ReviewResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: { readonly code: number; readonly reason?: string; readonly message: string };
  readonly warnings?: readonly string[];
  readonly auditAnnotations?: Readonly<Record<string, string>>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Deepest nesting of objects and arrays a review may have. A real one stays under ~30 (a
 * CronJob's pod affinity terms, managedFields mirroring the object); past ~5,000 levels
 * JSON.stringify of the event snapshot overflows the stack, and an evaluation that throws
 * is allowed, so a deeper body would slip through unchecked. Refused before JSON.parse.
 */
export const MAX_REVIEW_NESTING = 100;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whether JSON text nests objects/arrays deeper than `limit`: one pass over the bytes, strings skipped. */
export function nestsDeeperThan(json: Buffer, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const b = json[i]!;
    if (inString) {
      // UTF-8 continuation bytes are >= 0x80: a quote or backslash byte is always the ASCII character
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === 0x7b || b === 0x5b) {
      if (++depth > limit) return true;
    } else if (b === 0x7d || b === 0x5d) depth--;
  }
  return false;
}

/**
 * request.uid from the start of a review that will not be parsed. kube-apiserver writes the
 * envelope's type fields, then `request` with `uid` as its first field (Go struct order).
 */
function requestUidOf(head: string): string {
  const m =
    /^\s*\{(?:\s*"(?:apiVersion|kind)"\s*:\s*"[^"\\]*"\s*,)*\s*"request"\s*:\s*\{\s*"uid"\s*:\s*"([^"\\]{1,128})"/.exec(
      head,
    );
  return m ? m[1]! : '';
}

export function parseReview(body: Buffer | string): ParsedReview {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  // before JSON.parse, which takes seconds on millions of levels; the refusal must still echo
  // the uid, or kube-apiserver discards the answer and failurePolicy Ignore admits the object
  if (nestsDeeperThan(bytes, MAX_REVIEW_NESTING)) {
    const head = bytes.toString('utf8', 0, Math.min(bytes.length, 4096));
    const v1beta1 = /^\s*\{[^{]*"apiVersion"\s*:\s*"admission\.k8s\.io\/v1beta1"/.test(head);
    return {
      ok: false,
      uid: requestUidOf(head),
      apiVersion: v1beta1 ? 'admission.k8s.io/v1beta1' : 'admission.k8s.io/v1',
      message: `the AdmissionReview nests objects or arrays more than ${MAX_REVIEW_NESTING} levels deep`,
    };
  }
  let review: unknown;
  try {
    review = JSON.parse(bytes.toString('utf8'));
  } catch {
    return {
      ok: false,
      uid: '',
      apiVersion: 'admission.k8s.io/v1',
      message: 'the request body is not JSON (expected an AdmissionReview)',
    };
  }
  if (!isObject(review))
    return {
      ok: false,
      uid: '',
      apiVersion: 'admission.k8s.io/v1',
      message: 'the request body is not an AdmissionReview object',
    };
  const request = review['request'];
  const uid = isObject(request) && typeof request['uid'] === 'string' ? request['uid'].slice(0, 128) : '';
  const av = review['apiVersion'];
  const apiVersion: ReviewApiVersion = av === 'admission.k8s.io/v1beta1' ? av : 'admission.k8s.io/v1';
  const bad = (message: string): ParsedReview => ({ ok: false, uid, apiVersion, message });
  if (typeof av !== 'string' || !(REVIEW_API_VERSIONS as readonly string[]).includes(av))
    return bad(`apiVersion is ${JSON.stringify(av ?? null)}; expected admission.k8s.io/v1`);
  if (review['kind'] !== 'AdmissionReview')
    return bad(`kind is ${JSON.stringify(review['kind'] ?? null)}; expected AdmissionReview`);
  if (!isObject(request)) return bad('request is missing or not an object');
  if (uid === '') return bad('request.uid is missing or not a string');
  const operation = request['operation'];
  if (typeof operation !== 'string' || operation === '') return bad('request.operation is missing or not a string');
  const gvk = isObject(request['kind']) ? request['kind'] : {};
  const kind = gvk['kind'];
  if (typeof kind !== 'string' || kind === '') return bad('request.kind.kind is missing or not a string');
  let object = operation === 'DELETE' ? request['oldObject'] : request['object'];
  // request.kind is authoritative; some clients (and test tools) leave the object's own type fields out
  if (isObject(object) && (object['kind'] === undefined || object['apiVersion'] === undefined)) {
    const version = typeof gvk['version'] === 'string' ? gvk['version'] : 'v1';
    const group = typeof gvk['group'] === 'string' && gvk['group'] !== '' ? `${gvk['group']}/` : '';
    object = { apiVersion: `${group}${version}`, kind, ...object };
  }
  if ((operation === 'CREATE' || operation === 'UPDATE') && !isObject(object))
    return bad(`request.object is missing or not an object (operation ${operation})`);
  const ns = request['namespace'];
  if (ns !== undefined && ns !== null && typeof ns !== 'string') return bad('request.namespace is not a string');
  const name = request['name'];
  const dryRun = request['dryRun'];
  if (dryRun !== undefined && dryRun !== null && typeof dryRun !== 'boolean')
    return bad('request.dryRun is not a boolean');
  const user = isObject(request['userInfo']) ? request['userInfo'] : {};
  const groups = Array.isArray(user['groups'])
    ? user['groups'].filter((g): g is string => typeof g === 'string' && g !== '')
    : undefined;
  const sub = request['subResource'];
  return {
    ok: true,
    request: {
      apiVersion,
      uid,
      operation,
      kind,
      ...(typeof ns === 'string' && ns !== '' ? { namespace: ns } : {}),
      name: typeof name === 'string' ? name : '',
      object,
      dryRun: dryRun === true,
      username: typeof user['username'] === 'string' && user['username'] !== '' ? user['username'] : '(unknown)',
      ...(groups ? { groups } : {}),
      ...(typeof sub === 'string' && sub !== '' ? { subResource: sub } : {}),
    },
  };
}

export function reviewJson(apiVersion: ReviewApiVersion, response: ReviewResponse): string {
  return JSON.stringify({ apiVersion, kind: 'AdmissionReview', response });
}

/** The answer to a review that cannot be read: refused with 400, the uid echoed where there was one. */
export function malformedResponse(parsed: Extract<ParsedReview, { ok: false }>): ReviewResponse {
  return {
    uid: parsed.uid,
    allowed: false,
    status: { code: 400, reason: 'BadRequest', message: `portcullis: malformed AdmissionReview: ${parsed.message}` },
  };
}
