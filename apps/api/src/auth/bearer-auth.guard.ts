import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { Passport } from 'passport';
import { BearerStrategy, type ITokenPayload, type VerifyCallback } from 'passport-azure-ad';
import { LOGGER, unauthenticated, type Logger } from '@portcullis/platform';
import { PUBLIC_KEY } from '../tenancy/access.decorator';
import { requestOf, type TokenIdentity } from '../tenancy/tenancy.guard';
import { AUTH_OPTIONS } from './tokens';
import { trustDevIssuerCa, type AuthOptions } from './auth.options';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** passport-azure-ad's failure texts, mapped to reasons a caller can act on (and that leak nothing). */
const REASONS: ReadonlyArray<[RegExp, string]> = [
  [/jwt is expired/, 'the bearer token has expired'],
  [/jwt is not active|nbf value/, 'the bearer token is not valid yet (nbf is in the future)'],
  [/audience is invalid|invalid options\.audience/, 'the bearer token was issued for another audience'],
  [/invalid signature/, 'the bearer token signature does not verify'],
  [/we know how to validate|kid is missing|generating public key pem failed/i, 'the bearer token is signed with a key the issuer does not publish'],
  [/Invalid JWT token|malformed|failed to decode|missing (header|payload|signature)|invalid token|invalid algorithm/, 'the bearer token is malformed'],
  [/Cannot get AAD|ECONNREFUSED|certificate|ENOTFOUND|socket hang up/i, 'the token issuer could not be reached to verify the token'],
];

/**
 * Validates Entra ID bearer tokens with passport-azure-ad's BearerStrategy (signature
 * against the issuer's published keys, audience, expiry and not-before with clock
 * skew), then checks the issuer exactly: multi-tenant metadata cannot pin one issuer,
 * so `iss` must equal the template filled with the token's own `tid`.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  private readonly passport = new Passport();

  constructor(
    private readonly reflector: Reflector,
    @Inject(AUTH_OPTIONS) options: AuthOptions,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    trustDevIssuerCa(options);
    const strategy = new BearerStrategy(
      {
        identityMetadata: options.identityMetadataUrl,
        clientID: options.audience,
        audience: options.audience,
        validateIssuer: false,
        clockSkew: options.clockSkewSeconds,
        loggingLevel: 'error',
        // its failure texts (expired, audience...) are what we map above; tokens are never logged at level error
        loggingNoPII: false,
      },
      (payload: ITokenPayload, done: VerifyCallback) => {
        const token = payload as ITokenPayload & Record<string, unknown>;
        const tid = String(token.tid ?? '');
        const oid = String(token.oid ?? '');
        if (!GUID.test(tid) || !GUID.test(oid)) return done(null, false, 'the bearer token carries no tenant (tid) or object id (oid)');
        if (token.iss !== options.issuerTemplate.replace('{tenantid}', tid)) return done(null, false, 'the bearer token was issued by an issuer this API does not accept');
        const identity: TokenIdentity = { tenantId: tid.toLowerCase(), objectId: oid.toLowerCase(), name: typeof token.name === 'string' ? token.name : undefined };
        return done(null, identity);
      },
    );
    this.passport.use('entra', strategy);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, [context.getHandler(), context.getClass()])) return true;
    const req = requestOf(context) as unknown as Request & { identity?: TokenIdentity };
    if (req.identity) return true;
    const header = req.headers?.authorization;
    if (!header) throw unauthenticated('a bearer token is required (Authorization: Bearer <token>)');
    const [scheme, token, extra] = header.split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token || extra !== undefined) throw unauthenticated('the Authorization header must be "Bearer <token>"');
    if (token.split('.').length !== 3) throw unauthenticated('the bearer token is malformed');
    req.identity = await this.authenticate(req);
    return true;
  }

  private authenticate(req: Request): Promise<TokenIdentity> {
    return new Promise((resolve, reject) => {
      const middleware = this.passport.authenticate('entra', { session: false }, (err: unknown, user: TokenIdentity | false, info: unknown) => {
        if (err) {
          this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'token validation error');
          return reject(unauthenticated('the token issuer could not be reached to verify the token'));
        }
        if (!user) return reject(unauthenticated(reasonOf(info)));
        resolve(user);
      });
      middleware(req, {} as never, (err?: unknown) => reject(err ?? unauthenticated('the bearer token was not accepted')));
    });
  }
}

function reasonOf(info: unknown): string {
  const raw = typeof info === 'string' ? info : info instanceof Error ? info.message : JSON.stringify(info ?? '');
  // our own verify callback's reasons come back wrapped as "error: invalid_token, error description: <reason>"
  const text = raw.includes('error description: ') ? raw.slice(raw.indexOf('error description: ') + 19) : raw;
  if (text.startsWith('the bearer token')) return text;
  return REASONS.find(([pattern]) => pattern.test(text))?.[1] ?? 'the bearer token was not accepted';
}
