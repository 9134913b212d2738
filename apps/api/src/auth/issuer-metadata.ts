import * as https from 'node:https';
import * as tls from 'node:tls';

/** The part of passport-azure-ad's Metadata object its BearerStrategy reads (lib/metadata.js, 4.3.5). */
export interface AadMetadata {
  metadata: unknown;
  oidc: { algorithms: string[]; issuer: string; keys: unknown[]; [endpoint: string]: unknown };
  generateOidcPEM(kid: string): string;
}
type AadMetadataConstructor = new (url: string, authtype: 'oidc', options: object) => AadMetadata;
const { Metadata } = require('passport-azure-ad/lib/metadata') as { Metadata: AadMetadataConstructor };

export class IssuerUnreachableError extends Error {}

const TTL_MS = 30 * 60_000; // passport-azure-ad's own cache lifetime
const REFRESH_AFTER_MS = 60_000; // an unknown kid refetches keys at most this often (key rotation)
const TIMEOUT_MS = 10_000;
const MAX_BYTES = 1024 * 1024;

/**
 * Fetches the OpenID metadata and JWKS that passport-azure-ad validates tokens against,
 * and caches them like the library does. It replaces the library's own fetch, which has
 * no timeout, throws out of an event handler on a non-JSON body and answers twice on a
 * JWKS error; and it is the only place the development CA is trusted: its agent adds
 * that CA for these two requests, never for the process's other TLS connections.
 */
export class IssuerMetadataSource {
  private readonly agent: https.Agent;
  // one strategy = one metadata URL (the verifier loads `/common/` metadata for every tenant), so one entry
  private entry: { metadata: AadMetadata; fetchedAt: number } | undefined;
  private inFlight: Promise<AadMetadata> | undefined;

  constructor(
    private readonly libraryOptions: object,
    extraTrustedCaPem: string | undefined,
    private readonly now: () => number = Date.now,
  ) {
    // no keep-alive: fetches are 30 minutes apart and a pooled socket would outlive issuer restarts
    this.agent = new https.Agent({
      keepAlive: false,
      ...(extraTrustedCaPem ? { ca: [...tls.rootCertificates, extraTrustedCaPem] } : {}),
    });
  }

  /** Same contract as BearerStrategy.prototype.loadMetadata(params, next). */
  load(params: { metadataURL: string }, next: (err: Error | null, metadata?: AadMetadata) => void): void {
    this.get(params.metadataURL).then(
      (metadata) => next(null, metadata),
      (err: Error) => next(err),
    );
  }

  /** The metadata tokens were last checked against, if any (used to explain a rejection). */
  cached(): AadMetadata | undefined {
    return this.entry?.metadata;
  }

  /** Drops keys fetched more than a minute ago, so a token with a new kid triggers one refetch. */
  evictIfStale(): boolean {
    if (!this.entry || this.now() - this.entry.fetchedAt < REFRESH_AFTER_MS) return false;
    this.entry = undefined;
    return true;
  }

  close(): void {
    this.agent.destroy();
  }

  private get(url: string): Promise<AadMetadata> {
    if (this.entry && this.now() - this.entry.fetchedAt < TTL_MS) return Promise.resolve(this.entry.metadata);
    if (!this.inFlight) {
      const pending = this.fetchMetadata(url);
      this.inFlight = pending;
      pending.then(
        (metadata) => {
          this.entry = { metadata, fetchedAt: this.now() };
          this.inFlight = undefined;
        },
        () => {
          this.inFlight = undefined; // failures are not cached: the next request retries
        },
      );
    }
    return this.inFlight;
  }

  private async fetchMetadata(url: string): Promise<AadMetadata> {
    const doc = await this.fetchJson(url, 'OpenID metadata');
    const jwksUri = doc['jwks_uri'];
    if (typeof doc['issuer'] !== 'string' || typeof jwksUri !== 'string' || !jwksUri.startsWith('https://')) {
      throw new IssuerUnreachableError(`the OpenID metadata at ${url} has no issuer or no https jwks_uri`);
    }
    const algorithms = doc['id_token_signing_alg_values_supported'];
    if (!Array.isArray(algorithms) || !algorithms.every((a) => typeof a === 'string')) {
      throw new IssuerUnreachableError(`the OpenID metadata at ${url} lists no signing algorithms`);
    }
    const jwks = await this.fetchJson(jwksUri, 'signing keys');
    if (!Array.isArray(jwks['keys'])) throw new IssuerUnreachableError(`the key set at ${jwksUri} has no keys array`);
    const metadata = new Metadata(url, 'oidc', this.libraryOptions);
    // the fields Metadata.prototype.updateOidcMetadata would have set
    metadata.metadata = doc;
    metadata.oidc = {
      algorithms: algorithms as string[],
      authorization_endpoint: doc['authorization_endpoint'],
      end_session_endpoint: doc['end_session_endpoint'],
      issuer: doc['issuer'],
      token_endpoint: doc['token_endpoint'],
      userinfo_endpoint: doc['userinfo_endpoint'],
      keys: jwks['keys'] as unknown[],
    };
    return metadata;
  }

  private fetchJson(url: string, what: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const fail = (detail: string) =>
        reject(new IssuerUnreachableError(`cannot fetch the issuer's ${what} from ${url}: ${detail}`));
      const req = https.get(url, { agent: this.agent, headers: { accept: 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BYTES) req.destroy(new Error(`response larger than ${MAX_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('error', (err) => fail(err.message));
        res.on('end', () => {
          if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}`);
          try {
            const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            if (typeof body !== 'object' || body === null || Array.isArray(body))
              return fail('the response is not a JSON object');
            resolve(body as Record<string, unknown>);
          } catch {
            fail('the response is not JSON');
          }
        });
      });
      req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
      req.on('error', (err) => fail(err.message));
    });
  }
}
