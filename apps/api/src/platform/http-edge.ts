import type { Server } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { NextFunction, Request, Response } from 'express';
import type { AppConfig } from '@portcullis/config';
import { SECURITY_HEADERS, deadlineCheckInterval } from '@portcullis/contracts';

/**
 * Every answer carries SECURITY_HEADERS (errors and 404s included). HSTS goes out when the
 * connection itself is TLS, and in production, where the API is
 * served behind a TLS-terminating proxy (browsers ignore the header over plain HTTP).
 * The proxy's X-Forwarded-Proto is not consulted: the API does not trust proxy headers.
 */
export function securityHeaders(config: Pick<AppConfig, 'env' | 'http'>) {
  const maxAge = config.http.hstsMaxAgeSeconds;
  const hsts = maxAge > 0 ? `max-age=${maxAge}; includeSubDomains` : undefined;
  return (req: Request, res: Response, next: NextFunction): void => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    if (hsts && (config.env === 'production' || (req.socket as TLSSocket).encrypted === true))
      res.setHeader('Strict-Transport-Security', hsts);
    next();
  };
}

/**
 * Deadlines of the HTTP server, so a stranger cannot hold connections open by sending
 * slowly: headers within `headersTimeoutMs`, the whole request within `requestTimeoutMs`
 * (else Node answers 408 and closes), idle keep-alive connections closed after
 * `keepAliveTimeoutMs`. Neither bounds a response: a long poll waits after its request
 * was read. Node checks the deadlines every `connectionsCheckingInterval` (30 s by
 * default, read when the server starts listening): a quarter of the shortest one here.
 */
export function applyServerTimeouts(server: Server, http: AppConfig['http']): void {
  server.headersTimeout = http.headersTimeoutMs;
  server.requestTimeout = http.requestTimeoutMs;
  server.keepAliveTimeout = http.keepAliveTimeoutMs;
  // a property of every http.Server, though @types/node lists it only among the createServer options
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = deadlineCheckInterval(
    http.headersTimeoutMs,
    http.requestTimeoutMs,
  );
}
