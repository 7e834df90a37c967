import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import { RingcastError } from './errors.ts';
import { sendError, sendJson } from './http.ts';
import type { Logger } from './log.ts';
import { sendMetrics } from './metrics.ts';
import { checkName } from './names.ts';

/**
 * Every part's control routes (health, metrics, admin, the coordinator's API and pages) run on one
 * express app made here, so the three parts route in one style and answer a bad request the same way:
 * a JSON error with a code (docs/architecture.md, "URLs"). The relay's hot path (`/live/`) does not go
 * through express: it is answered by the fast path or the relay's own Node handler.
 *
 * Settings, and why:
 * - no ETag: express would hash every body (metrics, JSON) on every request;
 * - case-sensitive and strict routing: `/HEALTHZ` and `/healthz/` are not `/healthz`, as before;
 * - no `x-powered-by`: a stranger learns nothing about the stack;
 * - `pathsOnly`: a target that is not a path is 404 (see notFoundUnlessOriginForm).
 */
export function controlApp(opts: { closing?: () => boolean; pathsOnly?: boolean } = {}): Express {
  const app = express();
  app.set('etag', false);
  app.set('x-powered-by', false);
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  if (opts.closing) {
    const closing = opts.closing;
    app.use((_req, _res, next) => next(closing() ? new RingcastError('RC_SHUTTING_DOWN') : undefined));
  }
  if (opts.pathsOnly) app.use(notFoundUnlessOriginForm);
  return app;
}

/**
 * The last two handlers of every control app: an unmatched path is RC_NOT_FOUND, and anything thrown
 * (or rejected) becomes `{"error":{"code","message"}}` with its status, logged once.
 */
export function finishControlApp(app: Express, log: Logger): void {
  app.use((_req, _res, next) => next(new RingcastError('RC_NOT_FOUND')));
  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    sendError(res, fromExpress(err), log.child({ method: req.method, path: req.originalUrl }));
  };
  app.use(onError);
}

/**
 * Express routes an absolute-form target (`GET http://x/healthz`) by its path, where the parts' own
 * routers saw a target that is not a path and answered 404: the relay and origin keep that answer (the
 * coordinator refuses such targets with a 400 of its own, coordinator/route-table.ts).
 */
const notFoundUnlessOriginForm: RequestHandler = (req, _res, next) =>
  next(req.url.startsWith('/') ? undefined : new RingcastError('RC_NOT_FOUND'));

/** For `app.route(path).get(h).all(methodNotAllowed)`: the path exists, the method does not. */
export const methodNotAllowed: RequestHandler = (_req, _res, next) =>
  next(new RingcastError('RC_METHOD_NOT_ALLOWED'));

/**
 * Checks the named route parameters as Ringcast names (common/names.ts) before any handler runs, so a
 * bad stream or relay id is a 400 before state or files are touched.
 */
export function namedParams(...names: string[]): RequestHandler {
  return (req, _res, next) => {
    for (const name of names) {
      const value = req.params[name];
      if (typeof value === 'string') checkName(value, name);
    }
    next();
  };
}

/** `GET /healthz` and `GET /metrics`, which every part serves. */
export function addHealthAndMetrics(
  app: Express,
  parts: { health: () => Record<string, unknown>; registry: Parameters<typeof sendMetrics>[1] },
): void {
  app
    .route('/healthz')
    .get((_req, res) => sendJson(res, 200, parts.health()))
    .all(methodNotAllowed);
  app
    .route('/metrics')
    .get((_req, res) => sendMetrics(res, parts.registry))
    .all(methodNotAllowed);
}

/** Runs a control app from a plain Node handler (the relay and origin mount it beside their hot path). */
export function handleWith(app: Express): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => app(req, res);
}

/**
 * Errors express itself raises (a malformed percent-escape in the path, a body parser's limit) carry a
 * 4xx `status`; they become our codes rather than RC_INTERNAL.
 */
function fromExpress(err: unknown): unknown {
  if (err instanceof RingcastError) return err;
  const status = (err as { status?: unknown } | null)?.status;
  if (status === 413) return new RingcastError('RC_BODY_TOO_LARGE');
  if (typeof status === 'number' && status >= 400 && status < 500)
    return new RingcastError('RC_BAD_PATH', 'path is malformed', { cause: err });
  return err;
}
