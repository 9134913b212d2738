import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { type Logger, requestContext, trackInFlight } from '@portcullis/platform';
import { GRAPHQL_PATH } from '../graphql/operation-metrics';
import { httpMethodLabel, httpStatusLabel, UNMATCHED_ROUTE, type ApiMetrics } from './metrics';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives every request an id (the caller's X-Request-Id when well-formed), binds it to
 * the async context for log lines, and logs one line per request: method, route,
 * status, duration. Never the headers, so never a token.
 */
export function requestLogging(logger: Logger, metrics: ApiMetrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const incoming = req.header('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    const ctx = { requestId };
    // in flight until answered or dropped: an expensive operation's loop stands aside meanwhile
    const done = trackInFlight(ctx);
    res.on('close', done);
    requestContext.run(ctx, () => {
      res.on('finish', () => {
        done();
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        metrics.httpDuration.observe(
          { method: httpMethodLabel(req.method), route: routeLabel(req), status: httpStatusLabel(res.statusCode) },
          seconds,
        );
        if (req.path === '/healthz' || req.path === '/metrics') return;
        requestContext.run(ctx, () =>
          logger.info(
            { method: req.method, path: req.path, status: res.statusCode, durationMs: Math.round(seconds * 1000) },
            'request',
          ),
        );
      });
      next();
    });
  };
}

/**
 * The route a request matched, as written in the code (`/agent/v1/bundle`), never the
 * path the caller sent: a label per distinct unknown path would grow /metrics and the
 * process's memory without bound. GraphQL is mounted as middleware, not a route.
 */
export function routeLabel(req: Request): string {
  const template: unknown = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof template === 'string') return template;
  // mounted with app.use, which strips its path from req.url for the handler: read the original
  if (req.originalUrl.split('?', 1)[0] === GRAPHQL_PATH) return GRAPHQL_PATH;
  return UNMATCHED_ROUTE;
}
