import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { keyId, loadOrCreateState, refuseInProduction, type IssuerState } from './state';

export interface MintOptions {
  readonly tenantId: string;
  readonly oid: string;
  readonly name?: string;
  readonly audience: string;
  /** Defaults to this issuer's URL for the tenant, as Entra ID writes it. */
  readonly issuer?: string;
  readonly expiresInSeconds?: number;
  /** Seconds from now; negative = in the past. */
  readonly notBeforeOffsetSeconds?: number;
  readonly issuedAtOffsetSeconds?: number;
  /** Tests forge bad tokens: another key, or a kid the JWKS does not publish. */
  readonly signingKey?: KeyObject;
  readonly kid?: string;
}

/**
 * A local HTTPS OpenID Connect issuer shaped like Entra ID's v2.0 endpoints, for
 * development and tests: `/{tenant}/v2.0/.well-known/openid-configuration` and
 * `/common/discovery/v2.0/keys`. The API validates its tokens through the same
 * passport-azure-ad path as real Entra tokens. Refused in production.
 */
export class DevIssuer {
  private readonly state: IssuerState;
  private server: https.Server | undefined;
  private boundPort: number | undefined;

  constructor(private readonly options: { readonly stateDir: string; readonly port?: number }) {
    refuseInProduction('the development OpenID issuer');
    this.state = loadOrCreateState(options.stateDir);
  }

  get caCertPem(): string {
    return this.state.caCertPem;
  }

  get port(): number {
    const port = this.boundPort ?? this.options.port;
    if (port === undefined) throw new Error('the dev issuer has no port until it is started');
    return port;
  }

  /** Base URL; tokens' `iss` is `${url}/${tenantId}/v2.0`. */
  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async start(opts: { port?: number } = {}): Promise<void> {
    refuseInProduction('the development OpenID issuer');
    const server = https.createServer({ key: this.state.tlsKeyPem, cert: this.state.tlsCertPem }, (req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? this.options.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  mintToken(o: MintOptions): string {
    return mintToken(this.state, o.issuer ?? `${this.url}/${o.tenantId}/v2.0`, o);
  }

  private handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return json(405, { error: 'method not allowed' });
    const metadata = /^\/([A-Za-z0-9-]{1,64})\/v2\.0\/\.well-known\/openid-configuration$/.exec(url.pathname);
    if (metadata) {
      const tenant = metadata[1]!;
      const issuerTenant = tenant === 'common' || tenant === 'organizations' ? '{tenantid}' : tenant;
      return json(200, {
        issuer: `${this.url}/${issuerTenant}/v2.0`,
        jwks_uri: `${this.url}/common/discovery/v2.0/keys`,
        authorization_endpoint: `${this.url}/${tenant}/oauth2/v2.0/authorize`,
        token_endpoint: `${this.url}/${tenant}/oauth2/v2.0/token`,
        userinfo_endpoint: `${this.url}/oidc/userinfo`,
        end_session_endpoint: `${this.url}/${tenant}/oauth2/v2.0/logout`,
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'name', 'oid', 'tid', 'ver'],
      });
    }
    if (url.pathname === '/common/discovery/v2.0/keys') {
      const jwk = createPublicKey(this.state.signingKey).export({ format: 'jwk' }) as { n: string; e: string };
      return json(200, { keys: [{ kty: 'RSA', use: 'sig', alg: 'RS256', kid: this.state.kid, n: jwk.n, e: jwk.e }] });
    }
    return json(404, { error: 'not found' });
  }
}

/** Signs an Entra-shaped v2.0 access token with the issuer's persisted key (or a forged one). */
export function mintToken(state: Pick<IssuerState, 'signingKey' | 'kid'>, issuer: string, o: MintOptions): string {
  const now = Math.floor(Date.now() / 1000);
  const key = o.signingKey ?? state.signingKey;
  const header = { alg: 'RS256', typ: 'JWT', kid: o.kid ?? (o.signingKey ? keyId(o.signingKey) : state.kid) };
  const payload = {
    aud: o.audience,
    iss: issuer,
    iat: now + (o.issuedAtOffsetSeconds ?? 0),
    nbf: now + (o.notBeforeOffsetSeconds ?? 0),
    exp: now + (o.expiresInSeconds ?? 3600),
    name: o.name,
    oid: o.oid,
    preferred_username: o.name ? `${o.name.toLowerCase().replace(/\s+/g, '.')}@dev.portcullis.local` : undefined,
    scp: 'access_as_user',
    sub: o.oid,
    tid: o.tenantId,
    ver: '2.0',
  };
  const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const signingInput = `${encode(header)}.${encode(payload)}`;
  return `${signingInput}.${sign('sha256', Buffer.from(signingInput), key).toString('base64url')}`;
}
