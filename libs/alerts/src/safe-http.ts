import * as dns from 'node:dns';
import * as https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import * as tls from 'node:tls';

/**
 * Outbound HTTPS to tenant-supplied destinations, refusing server-side request forgery:
 * https only; redirects never followed (a 3xx is a failed delivery naming where it pointed);
 * unless private destinations are allowed (development and tests; production refuses the
 * setting), no connection to a loopback, private, CGNAT, link-local, metadata, unspecified,
 * multicast or reserved address, nor an IPv4-mapped, NAT64 or 6to4 IPv6 form of one. The check
 * runs where the socket connects (the request's own DNS lookup), so a name that resolved to a
 * public address when it was saved and to 127.0.0.1 now (DNS rebinding) is refused; IP
 * literals, which Node connects to without a lookup, are checked before the request.
 */
export interface SafeHttpOptions {
  readonly allowPrivate: boolean;
  /** Extra trusted CA certificates (PEM), added to Node's roots. */
  readonly extraCa?: string;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  readonly maxResponseBytes: number;
  /** The resolver (tests substitute one); default dns.lookup. */
  readonly resolve?: (host: string) => Promise<readonly { address: string; family: number }[]>;
}

export class UnsafeDestinationError extends Error {}

const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data']);

/** Checks a URL as typed: https, a host, no credentials in it; a forbidden IP literal or name is refused. Returns the reason or null. */
export function checkUrlShape(raw: string, allowPrivate: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'https:') return `must use https (got ${url.protocol.replace(':', '')})`;
  if (!url.hostname) return 'has no host';
  if (url.username || url.password) return 'must not carry a user name or password (use the token fields)';
  if (raw.length > 2048) return 'is longer than 2048 characters';
  if (!allowPrivate) {
    const host = bareHost(url.hostname);
    const name = host.toLowerCase().replace(/\.$/, '');
    if (METADATA_NAMES.has(name)) return `host ${host} is a cloud metadata service`;
    if (name === 'localhost' || name.endsWith('.localhost')) return `host ${host} is a loopback name`;
    if (isIP(host)) {
      const why = forbiddenAddress(host);
      if (why) return `host ${host} is ${why}`;
    }
  }
  return null;
}

const bareHost = (hostname: string) =>
  hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;

/** The host of a URL as lists show it (`hooks.slack.com/…`): no path, no query, nothing secret. */
export function displayHost(raw: string): string {
  const url = new URL(raw);
  return `${url.host}/…`;
}

/** Resolves a host as the connection would and refuses it if any address is forbidden. Returns the reason or null. */
export async function checkResolvedHost(
  raw: string,
  options: Pick<SafeHttpOptions, 'allowPrivate' | 'resolve'>,
): Promise<string | null> {
  if (options.allowPrivate) return null;
  const host = bareHost(new URL(raw).hostname);
  if (isIP(host)) {
    const why = forbiddenAddress(host);
    return why ? `host ${host} is ${why}` : null;
  }
  let addresses: readonly { address: string; family: number }[];
  try {
    addresses = await (options.resolve ?? defaultResolve)(host);
  } catch (err) {
    return `host ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? 'DNS error'})`;
  }
  for (const a of addresses) {
    const why = forbiddenAddress(a.address);
    if (why) return `host ${host} resolves to ${a.address}, ${why}`;
  }
  return addresses.length ? null : `host ${host} does not resolve`;
}

const defaultResolve = (host: string) => dns.promises.lookup(host, { all: true, verbatim: true });

/** A lookup for the request: resolves, refuses the whole name if any address is forbidden, answers in the form asked for. */
function guardedLookup(options: SafeHttpOptions): LookupFunction {
  return ((hostname: string, opts: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    (options.resolve ?? defaultResolve)(hostname).then(
      (addresses) => {
        if (!options.allowPrivate) {
          for (const a of addresses) {
            const why = forbiddenAddress(a.address);
            if (why) {
              const err = new UnsafeDestinationError(`host ${hostname} resolves to ${a.address}, ${why}: refused`);
              (err as NodeJS.ErrnoException).code = 'ESSRF';
              callback(err);
              return;
            }
          }
        }
        const wanted =
          opts.family === 4 || opts.family === 6 ? addresses.filter((a) => a.family === opts.family) : addresses;
        if (wanted.length === 0) {
          const err = new Error(`host ${hostname} has no address`) as NodeJS.ErrnoException;
          err.code = 'ENOTFOUND';
          callback(err);
          return;
        }
        if (opts.all)
          callback(
            null,
            wanted.map((a) => ({ address: a.address, family: a.family })),
          );
        else callback(null, wanted[0]!.address, wanted[0]!.family);
      },
      (err: unknown) => callback(err),
    );
  }) as LookupFunction;
}

/**
 * One keep-alive agent per options object (the worker holds one): connections to a receiver
 * are reused instead of a TLS handshake per delivery. The guarded lookup runs for every new
 * connection, so a reused connection is one that passed it.
 */
const agents = new WeakMap<SafeHttpOptions, https.Agent>();
function agentFor(options: SafeHttpOptions): https.Agent {
  let agent = agents.get(options);
  if (!agent) {
    agent = new https.Agent({
      keepAlive: true,
      keepAliveMsecs: 1000,
      maxSockets: 16,
      maxFreeSockets: 4,
      timeout: 30_000,
      scheduling: 'lifo',
      lookup: guardedLookup(options),
      ...(options.extraCa ? { ca: [...tls.rootCertificates, options.extraCa] } : {}),
    });
    agents.set(options, agent);
  }
  return agent;
}

export interface HttpAnswer {
  readonly status: number;
  /** Retry-After, in ms, when the receiver sent one (seconds or an HTTP date). */
  readonly retryAfterMs?: number;
  /** Location of a redirect (host and path only), which is never followed. */
  readonly location?: string;
}

/** A failure before any HTTP status: DNS, refused address, connect, TLS, timeout. */
export class DeliveryNetworkError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

/** POSTs one body; resolves with the status whatever it is (the caller decides), rejects with DeliveryNetworkError. */
export async function safePost(
  rawUrl: string,
  body: string,
  headers: Readonly<Record<string, string>>,
  options: SafeHttpOptions,
): Promise<HttpAnswer> {
  const shape = checkUrlShape(rawUrl, options.allowPrivate);
  if (shape) throw new DeliveryNetworkError(`destination URL ${shape}: refused`, true);
  const url = new URL(rawUrl);
  const host = bareHost(url.hostname);
  const payload = Buffer.from(body, 'utf8');
  return new Promise<HttpAnswer>((resolve, reject) => {
    let settled = false;
    const fail = (err: DeliveryNetworkError) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    const req = https.request(
      {
        protocol: 'https:',
        hostname: host,
        port: url.port || 443,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        servername: isIP(host) ? undefined : host,
        headers: {
          ...headers,
          'content-length': String(payload.length),
          'user-agent': 'Portcullis-Alerts/1',
        },
        agent: agentFor(options),
        timeout: options.connectTimeoutMs,
      },
      (res) => {
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > options.maxResponseBytes) res.destroy(); // the status is all we read
        });
        const done = () => {
          if (settled) return;
          settled = true;
          clearTimeout(overall);
          const status = res.statusCode ?? 0;
          const answer: { status: number; retryAfterMs?: number; location?: string } = { status };
          const ra = parseRetryAfter(res.headers['retry-after']);
          if (ra !== undefined) answer.retryAfterMs = ra;
          if (status >= 300 && status < 400 && typeof res.headers.location === 'string') {
            try {
              const loc = new URL(res.headers.location, url);
              answer.location = `${loc.protocol}//${loc.host}${loc.pathname}`.slice(0, 200);
            } catch {
              answer.location = '(unparseable)';
            }
          }
          resolve(answer);
        };
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      },
    );
    const overall = setTimeout(() => {
      req.destroy();
      fail(new DeliveryNetworkError(`no answer within ${options.responseTimeoutMs} ms`, false));
    }, options.responseTimeoutMs);
    req.on('timeout', () => {
      req.destroy();
      fail(new DeliveryNetworkError(`could not connect within ${options.connectTimeoutMs} ms`, false));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(overall);
      if (err instanceof UnsafeDestinationError || err.code === 'ESSRF')
        fail(new DeliveryNetworkError(err.message, true));
      else fail(new DeliveryNetworkError(describeNetworkError(err, host), false));
    });
    if (!options.allowPrivate && isIP(host)) {
      const why = forbiddenAddress(host);
      if (why) {
        clearTimeout(overall);
        req.destroy();
        fail(new DeliveryNetworkError(`host ${host} is ${why}: refused`, true));
        return;
      }
    }
    req.end(payload);
  });
}

function describeNetworkError(err: NodeJS.ErrnoException, host: string): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return `connection to ${host} refused`;
    case 'ECONNRESET':
      return `connection to ${host} reset`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host ${host} does not resolve (${err.code})`;
    case 'ETIMEDOUT':
      return `connection to ${host} timed out`;
    default:
      if (
        err.code?.startsWith('ERR_TLS') ||
        err.code?.startsWith('ERR_SSL') ||
        err.code?.includes('CERT') ||
        err.code?.startsWith('UNABLE_TO_') ||
        err.code === 'HOSTNAME_MISMATCH'
      )
        return `TLS with ${host} failed (${err.code})`;
      return `request to ${host} failed (${err.code ?? err.message.slice(0, 100)})`;
  }
}

function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  if (/^\d{1,7}$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

// ---------------------------------------------------------------------------------------------
// Address classification

/** Why an address may not be a destination, or null when it is a public unicast address. */
export function forbiddenAddress(address: string): string | null {
  const v = isIP(address);
  if (v === 4) return forbiddenV4(parseV4(address)!);
  if (v === 6) {
    const b = parseV6(address);
    if (!b) return 'not a valid IPv6 address';
    return forbiddenV6(b);
  }
  return 'not an IP address';
}

function parseV4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  return out.every((n) => n >= 0 && n <= 255) ? out : null;
}

function parseV6(s: string): number[] | null {
  let text = s.split('%')[0]!.toLowerCase();
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (!v4) return null;
    tail = v4;
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const words = (h: string) => (h === '' ? [] : h.split(':'));
  const head = words(halves[0]!);
  const rest = halves.length === 2 ? words(halves[1]!) : [];
  const fill = 8 - head.length - rest.length;
  if (halves.length === 1 ? fill !== 0 : fill < 0) return null;
  const all = [...head, ...Array<string>(Math.max(0, fill)).fill('0'), ...rest];
  const bytes: number[] = [];
  for (const w of all) {
    if (!/^[0-9a-f]{1,4}$/.test(w)) return null;
    const n = parseInt(w, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

const inV4 = (b: number[], net: [number, number, number, number], bits: number) => {
  const a = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  const n = ((net[0] << 24) | (net[1] << 16) | (net[2] << 8) | net[3]) >>> 0;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (a & mask) === (n & mask);
};

const V4_RULES: ReadonlyArray<[[number, number, number, number], number, string]> = [
  [[169, 254, 169, 254], 32, 'a cloud metadata address'],
  [[0, 0, 0, 0], 8, 'an unspecified ("this network") address'],
  [[10, 0, 0, 0], 8, 'a private address (RFC 1918)'],
  [[100, 64, 0, 0], 10, 'a carrier-grade NAT address (RFC 6598)'],
  [[127, 0, 0, 0], 8, 'a loopback address'],
  [[169, 254, 0, 0], 16, 'a link-local address'],
  [[172, 16, 0, 0], 12, 'a private address (RFC 1918)'],
  [[192, 0, 0, 0], 24, 'an IETF protocol assignment address'],
  [[192, 0, 2, 0], 24, 'a documentation address'],
  [[192, 88, 99, 0], 24, 'a 6to4 relay address'],
  [[192, 168, 0, 0], 16, 'a private address (RFC 1918)'],
  [[198, 18, 0, 0], 15, 'a benchmarking address'],
  [[198, 51, 100, 0], 24, 'a documentation address'],
  [[203, 0, 113, 0], 24, 'a documentation address'],
  [[224, 0, 0, 0], 4, 'a multicast address'],
  [[240, 0, 0, 0], 4, 'a reserved address'],
];

function forbiddenV4(b: number[]): string | null {
  for (const [net, bits, why] of V4_RULES) if (inV4(b, net, bits)) return why;
  return null;
}

function forbiddenV6(b: number[]): string | null {
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zero(0, 16)) return 'an unspecified address';
  if (zero(0, 15) && b[15] === 1) return 'a loopback address';
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) {
    const why = forbiddenV4(b.slice(12));
    return why ? `an IPv4-mapped form of ${why}` : null;
  }
  if (zero(0, 12)) return 'an IPv4-compatible (deprecated) address';
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) {
    const why = forbiddenV4(b.slice(12));
    return why ? `a NAT64 form of ${why}` : null;
  }
  if (b[0] === 0x20 && b[1] === 0x02) {
    const why = forbiddenV4(b.slice(2, 6));
    return why ? `a 6to4 form of ${why}` : null;
  }
  if (
    b[0] === 0xfd &&
    b[1] === 0x00 &&
    b[2] === 0x0e &&
    b[3] === 0xc2 &&
    zero(4, 14) &&
    b[14] === 0x02 &&
    b[15] === 0x54
  )
    return 'a cloud metadata address';
  if ((b[0]! & 0xfe) === 0xfc) return 'a unique local (private) address';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'a link-local address';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return 'a site-local (deprecated) address';
  if (b[0] === 0xff) return 'a multicast address';
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return 'a documentation address';
  if (b[0] === 0x01 && zero(1, 8)) return 'a discard-only address';
  return null;
}
