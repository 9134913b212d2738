import { createPublicKey } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { defaultStateDir, loadOrCreateState, refuseInProduction, type IssuerState } from './state';
import { issuerFor, mintToken, type MintOptions } from './token';

export interface DevIssuerOptions {
  /** Default `<repoRoot>/.portcullis/dev-issuer`. */
  readonly stateDir?: string;
  /** Default port for start(); 0 = ephemeral. */
  readonly port?: number;
}

/** Tenant segments Entra accepts in metadata URLs: a GUID, a domain, or common/organizations/consumers. */
const TENANT_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9.-]{0,253}$/;
const MULTI_TENANT = new Set(['common', 'organizations']);

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

  constructor(private readonly options: DevIssuerOptions = {}) {
    refuseInProduction();
    this.state = loadOrCreateState(options.stateDir ?? defaultStateDir());
  }

  /** The CA that signed this issuer's TLS certificate: what a development API trusts for metadata and keys. */
  get caCertPem(): string {
    return this.state.caCertPem;
  }

  get stateDir(): string {
    return this.state.dir;
  }

  get kid(): string {
    return this.state.kid;
  }

  get port(): number {
    const port = this.boundPort ?? (this.options.port || undefined);
    if (port === undefined) throw new Error('the dev issuer has no port until it is started');
    return port;
  }

  /** Base URL; tokens' `iss` is `${url}/${tenantId}/v2.0`. */
  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** The multi-tenant metadata URL the API is pointed at (Entra's `common` equivalent). */
  get metadataUrl(): string {
    return `${this.url}/common/v2.0/.well-known/openid-configuration`;
  }

  async start(opts: { port?: number } = {}): Promise<void> {
    refuseInProduction();
    if (this.server) throw new Error(`the dev issuer is already listening on ${this.url}`);
    const port = opts.port ?? this.options.port ?? 0;
    const server = https.createServer({ key: this.state.tlsKeyPem, cert: this.state.tlsCertPem }, (req, res) =>
      this.handle(req, res),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new Error(
            `the dev issuer cannot listen on 127.0.0.1:${port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`,
          ),
        ),
      );
      server.listen(port, '127.0.0.1', () => resolve());
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

  /** A token signed with the persisted key; `iss` defaults to this issuer's URL for the tenant. */
  mintToken(o: MintOptions): string {
    return mintToken(this.state, issuerFor(this.url, o.tenantId), o);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, {
        'Content-Type': 'application/json; charset=utf-8',
        'Cache-Control': status === 200 ? 'max-age=300' : 'no-store',
      });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method_not_allowed' });
    const { pathname } = new URL(req.url ?? '/', 'https://127.0.0.1');
    if (pathname === '/common/discovery/v2.0/keys') return json(200, this.jwks());
    const metadata = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(pathname);
    if (metadata && TENANT_SEGMENT.test(metadata[1]!)) return json(200, this.openIdConfiguration(metadata[1]!));
    return json(404, { error: 'not_found', error_description: `no such endpoint: ${pathname}` });
  }

  /** Entra's multi-tenant documents template the issuer with `{tenantid}`; tenant documents name the tenant. */
  private openIdConfiguration(tenant: string): Record<string, unknown> {
    const base = this.url;
    return {
      issuer: `${base}/${MULTI_TENANT.has(tenant) ? '{tenantid}' : tenant}/v2.0`,
      jwks_uri: `${base}/common/discovery/v2.0/keys`,
      authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
      token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
      userinfo_endpoint: `${base}/oidc/userinfo`,
      end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'name', 'oid', 'tid', 'ver', 'preferred_username'],
      tenant_region_scope: null,
      request_uri_parameter_supported: false,
    };
  }

  private jwks(): { keys: Array<Record<string, string>> } {
    const jwk = createPublicKey(this.state.signingKey).export({ format: 'jwk' }) as { n: string; e: string };
    return {
      keys: [
        {
          kty: 'RSA',
          use: 'sig',
          alg: 'RS256',
          kid: this.state.kid,
          n: jwk.n,
          e: jwk.e,
          issuer: `${this.url}/{tenantid}/v2.0`,
        },
      ],
    };
  }
}

/** What the launcher runs in development: the issuer on its configured port. Throws in production. */
export async function startDevIssuer(options: DevIssuerOptions = {}): Promise<DevIssuer> {
  const issuer = new DevIssuer(options);
  await issuer.start({ port: options.port ?? 3443 });
  return issuer;
}
