import { sign, type KeyObject } from 'node:crypto';
import { keyId, type IssuerState } from './state';

export interface MintOptions {
  /** Entra tenant id (`tid`). */
  readonly tenantId: string;
  /** Entra object id of the user (`oid`, also `sub` here). */
  readonly oid: string;
  readonly name?: string;
  /** An array mints a multi-audience token (which the API refuses). */
  readonly audience: string | readonly string[];
  /** Defaults to the issuer's URL for the tenant, as Entra ID writes it: `<base>/<tid>/v2.0`. */
  readonly issuer?: string;
  /** Lifetime from now; negative mints an already expired token. Default 3600. */
  readonly expiresInSeconds?: number;
  /** `nbf` relative to now (negative = in the past). Default 0. */
  readonly notBeforeOffsetSeconds?: number;
  /** `iat` relative to now. Default 0. */
  readonly issuedAtOffsetSeconds?: number;
  /** Tests forge bad tokens: signed by another key... */
  readonly signingKey?: KeyObject;
  /** ...or naming a kid the JWKS does not publish. */
  readonly kid?: string;
  readonly scopes?: readonly string[];
  /** ...or carrying more JOSE header parameters (e.g. `crit`), signed like any other. */
  readonly extraHeader?: Readonly<Record<string, unknown>>;
}

/** The key id and key tokens are signed with, as persisted in the issuer's state. */
export type SigningMaterial = Pick<IssuerState, 'signingKey' | 'kid'>;

function required(value: string | undefined, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new Error(`mintToken: ${what} is required`);
  return value;
}

/** Signs an access token shaped like Entra ID v2.0's (RS256, `ver` "2.0", `tid`, `oid`, `scp`). */
export function mintToken(state: SigningMaterial, issuer: string, o: MintOptions): string {
  const tid = required(o.tenantId, 'tenantId');
  const oid = required(o.oid, 'oid');
  for (const aud of typeof o.audience === 'string' ? [o.audience] : o.audience) required(aud, 'audience');
  for (const [what, v] of [
    ['expiresInSeconds', o.expiresInSeconds],
    ['notBeforeOffsetSeconds', o.notBeforeOffsetSeconds],
    ['issuedAtOffsetSeconds', o.issuedAtOffsetSeconds],
  ] as const) {
    if (v !== undefined && !Number.isInteger(v))
      throw new Error(`mintToken: ${what} must be a whole number of seconds`);
  }
  const now = Math.floor(Date.now() / 1000);
  const key = o.signingKey ?? state.signingKey;
  const header = {
    typ: 'JWT',
    alg: 'RS256',
    kid: o.kid ?? (o.signingKey ? keyId(o.signingKey) : state.kid),
    ...o.extraHeader,
  };
  const payload = {
    aud: o.audience,
    iss: o.issuer ?? issuer,
    iat: now + (o.issuedAtOffsetSeconds ?? 0),
    nbf: now + (o.notBeforeOffsetSeconds ?? 0),
    exp: now + (o.expiresInSeconds ?? 3600),
    name: o.name,
    oid,
    preferred_username: o.name ? `${o.name.toLowerCase().replace(/[^a-z0-9]+/g, '.')}@dev.portcullis.local` : undefined,
    scp: (o.scopes ?? ['access_as_user']).join(' '),
    sub: oid,
    tid,
    ver: '2.0',
  };
  const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const signingInput = `${encode(header)}.${encode(payload)}`;
  return `${signingInput}.${sign('sha256', Buffer.from(signingInput), key).toString('base64url')}`;
}

/** `https://127.0.0.1:<port>`, or `DEV_ISSUER_URL` when set: the base of every `iss`. */
export function issuerBaseUrl(env: NodeJS.ProcessEnv): string {
  const explicit = env['DEV_ISSUER_URL'];
  if (explicit) {
    let url: URL;
    try {
      url = new URL(explicit);
    } catch {
      throw new Error(`DEV_ISSUER_URL "${explicit}" is not a URL`);
    }
    if (url.protocol !== 'https:') throw new Error(`DEV_ISSUER_URL "${explicit}" must be an https URL`);
    if (url.pathname !== '/' || url.search)
      throw new Error(`DEV_ISSUER_URL "${explicit}" must be an origin only (https://host:port)`);
    return url.origin;
  }
  const raw = env['DEV_ISSUER_PORT'] ?? '3443';
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) throw new Error(`DEV_ISSUER_PORT "${raw}" is not a port number`);
  return `https://127.0.0.1:${port}`;
}

/** The `iss` Entra-shaped tokens of this issuer carry for a tenant. */
export function issuerFor(baseUrl: string, tenantId: string): string {
  return `${baseUrl}/${tenantId}/v2.0`;
}
