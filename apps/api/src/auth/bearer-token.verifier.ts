import { Inject, Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import { Passport } from 'passport';
import { BearerStrategy, type ITokenPayload, type VerifyCallback } from 'passport-azure-ad';
import { LOGGER, unauthenticated, type Logger } from '@portcullis/platform';
import { checkAuthOptions, type AuthOptions } from './auth.options';
import { bearerCredentialOf } from './bearer-header';
import { IssuerMetadataSource, type AadMetadata } from './issuer-metadata';
import { decodeUnverified, explainMissingKey, explainVerificationFailure, type UnverifiedJwt } from './token-rejection';
import type { TokenIdentity } from './token-identity';
import { AUTH_OPTIONS } from './tokens';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISSUER_DOWN = 'the token issuer could not be reached to verify the bearer token; try again shortly';

type Outcome = { identity: TokenIdentity } | { failure: unknown };
interface VerifyingRequest {
  headers: Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * Validates Entra ID bearer tokens with passport-azure-ad's BearerStrategy: signature
 * against the issuer's published keys, issuer, audience, expiry and not-before with clock
 * skew. Multi-tenant (`/common/`) metadata names no one issuer, so each token is checked
 * as its own tenant's: the strategy gets the token's `tid` as tenantIdOrName and the
 * metadata it loads names the allowed template filled with that tid as the issuer, which
 * the library compares with `iss` after the signature. The verify callback checks it again.
 */
@Injectable()
export class BearerTokenVerifier implements OnModuleDestroy {
  // its own Passport instance: two apps in one process never share strategy state
  private readonly passport = new Passport();
  private readonly metadata: IssuerMetadataSource;
  private readonly rejections = new WeakMap<object, string>();

  constructor(
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
    @Optional() @Inject(LOGGER) private readonly logger?: Logger,
  ) {
    checkAuthOptions(options);
    const strategyOptions = {
      identityMetadata: options.identityMetadataUrl,
      clientID: options.audience,
      audience: options.audience,
      allowMultiAudiencesInToken: false,
      validateIssuer: true,
      passReqToCallback: true as const,
      clockSkew: options.clockSkewSeconds,
      // error level + no PII: the library logs tokens and claims at info level otherwise
      loggingLevel: 'error' as const,
      loggingNoPII: true,
    };
    const strategy = new BearerStrategy(strategyOptions, (req, payload, done) =>
      this.checkIdentity(req as unknown as object, payload, done),
    );
    this.metadata = new IssuerMetadataSource(strategyOptions, options.extraTrustedCaPem);
    (strategy as unknown as { loadMetadata: IssuerMetadataSource['load'] }).loadMetadata = (params, next) =>
      this.loadMetadata(params, next);
    this.passport.use('entra', strategy);
  }

  onModuleDestroy(): void {
    this.metadata.close();
  }

  /**
   * The identity of a request's `Authorization: Bearer` token, or a DomainError
   * UNAUTHENTICATED whose message says what is wrong without echoing the token.
   */
  async verify(req: VerifyingRequest): Promise<TokenIdentity> {
    const token = bearerCredentialOf(req.headers['authorization']);
    if (token === undefined) throw unauthenticated('a bearer token is required (Authorization: Bearer <token>)');
    if (token === null) throw unauthenticated('the Authorization header must be "Bearer <token>"');
    const jwt = decodeUnverified(token);
    if (typeof jwt === 'string') throw unauthenticated(jwt);
    // the tenant whose issuer the token must name; a token without one is refused unread
    const tid = jwt.payload['tid'];
    if (typeof tid !== 'string' || !GUID.test(tid))
      throw unauthenticated('the bearer token carries no tenant id (tid)');

    let outcome = await this.authenticate(req, tid);
    if ('failure' in outcome && isMissingKey(outcome.failure) && this.metadata.evictIfStale()) {
      outcome = await this.authenticate(req, tid); // keys may have rotated since they were cached
    }
    if ('identity' in outcome) return outcome.identity;
    throw unauthenticated(this.reasonOf(req, jwt, outcome.failure));
  }

  private authenticate(req: VerifyingRequest, tid: string): Promise<Outcome> {
    return new Promise((resolve) => {
      // tenantIdOrName: passport-azure-ad's own option (its types lack it)
      const options = { session: false, tenantIdOrName: tid } as { session: boolean };
      const middleware = this.passport.authenticate(
        'entra',
        options,
        (err: unknown, user: TokenIdentity | false, info: unknown) => {
          if (err) resolve({ failure: err });
          else if (!user) resolve({ failure: info });
          else resolve({ identity: user });
        },
      );
      middleware(req, {} as never, (err?: unknown) => resolve({ failure: err }));
    });
  }

  /**
   * The strategy's metadata loader. For `/common/` metadata the library asks for the URL
   * with the token's tid in place of `common`; the common document is loaded (one cache
   * entry for every tenant) and given to the library as that tenant's, naming the allowed
   * issuer for the tid. Tenant-specific metadata is loaded as it is and names its own issuer.
   */
  private loadMetadata(
    params: { metadataURL: string },
    next: (err: Error | null, metadata?: AadMetadata) => void,
  ): void {
    const configured = this.options.identityMetadataUrl;
    const at = configured.indexOf('/common/');
    const prefix = configured.slice(0, at + 1);
    const rest = params.metadataURL.slice(prefix.length);
    const slash = rest.indexOf('/');
    const tid = at < 0 || !params.metadataURL.startsWith(prefix) ? '' : rest.slice(0, slash);
    if (!GUID.test(tid)) return this.metadata.load(params, next);
    const issuer = this.options.allowedIssuerTemplate.replace('{tenantid}', tid);
    this.metadata.load({ ...params, metadataURL: `${prefix}common${rest.slice(slash)}` }, (err, metadata) => {
      if (err || !metadata) return next(err ?? new Error('no issuer metadata'));
      next(null, Object.create(metadata, { oidc: { value: { ...metadata.oidc, issuer } } }) as AadMetadata);
    });
  }

  /** Runs after the library verified signature, issuer, audience and lifetime. */
  private checkIdentity(req: object, payload: ITokenPayload, done: VerifyCallback): void {
    const claims = payload as ITokenPayload & Record<string, unknown>;
    const tid = typeof claims['tid'] === 'string' ? claims['tid'] : '';
    const oid = typeof claims['oid'] === 'string' ? claims['oid'] : '';
    const reject = (reason: string) => {
      this.rejections.set(req, reason);
      done(null, false, reason);
    };
    if (!GUID.test(tid)) return reject('the bearer token carries no tenant id (tid)');
    if (!GUID.test(oid)) return reject('the bearer token carries no object id (oid)');
    // Entra spells the tid in iss exactly as in the tid claim, so the comparison is exact
    if (claims.iss !== this.options.allowedIssuerTemplate.replace('{tenantid}', tid)) {
      return reject(
        `the bearer token issuer "${String(claims.iss).slice(0, 200)}" is not accepted for tenant ${tid.toLowerCase()}`,
      );
    }
    const identity: TokenIdentity = {
      tenantId: tid.toLowerCase(),
      objectId: oid.toLowerCase(),
      ...(typeof claims['name'] === 'string' ? { name: claims['name'] } : {}),
      rawClaims: pickClaims(claims),
    };
    done(null, identity);
  }

  private reasonOf(req: object, jwt: UnverifiedJwt, failure: unknown): string {
    const ours = this.rejections.get(req);
    if (ours) return ours;
    if (failure instanceof Error) {
      // IssuerUnreachableError from the metadata source, or an error inside the library
      this.logger?.warn(
        { reason: failure.message },
        'bearer token could not be validated: issuer metadata or keys unavailable',
      );
      return ISSUER_DOWN;
    }
    const text = typeof failure === 'string' ? failure : '';
    if (isMissingKey(text)) return explainMissingKey(jwt);
    if (/cannot verify token/.test(text)) {
      const tid = String(jwt.payload['tid']);
      return explainVerificationFailure(jwt, this.metadata.cached(), {
        audience: this.options.audience,
        clockSkewSeconds: this.options.clockSkewSeconds,
        issuer: { tenantId: tid.toLowerCase(), iss: this.options.allowedIssuerTemplate.replace('{tenantid}', tid) },
      });
    }
    if (/Invalid JWT token/.test(text)) return 'the bearer token is malformed';
    return 'the bearer token was not accepted';
  }
}

function isMissingKey(failure: unknown): boolean {
  return typeof failure === 'string' && failure.includes('We did not receive a token we know how to validate');
}

function pickClaims(c: Record<string, unknown>): TokenIdentity['rawClaims'] {
  const str = (k: string) => (typeof c[k] === 'string' ? (c[k] as string) : undefined);
  const num = (k: string) => (typeof c[k] === 'number' ? (c[k] as number) : undefined);
  return {
    iss: str('iss') ?? '',
    aud: str('aud') ?? (Array.isArray(c['aud']) ? String(c['aud'][0]) : ''),
    exp: num('exp') ?? 0,
    ...(num('iat') !== undefined ? { iat: num('iat') } : {}),
    ...(str('ver') ? { ver: str('ver') } : {}),
    ...(str('scp') ? { scp: str('scp') } : {}),
    ...(str('preferred_username') ? { preferred_username: str('preferred_username') } : {}),
  };
}
