import type { IncomingMessage } from 'node:http';
import type { ErrorRequestHandler, Express, Request, RequestHandler } from 'express';
import { methodNotAllowed, namedParams } from '../common/control-app.ts';
import { RingcastError } from '../common/errors.ts';

/** The methods the coordinator routes; HEAD is answered by the GET handler (express does that). */
export type HttpMethod = 'get' | 'post' | 'put' | 'delete';

/** One row of a part's route table: method, express path, then the handlers in order (guards first). */
export interface RouteSpec {
  method: HttpMethod;
  path: string;
  handlers: RequestHandler[];
}

/** One row: `row('post', '/api/v1/relays', secret, store, register)`. */
export function row(method: HttpMethod, path: string, ...handlers: RequestHandler[]): RouteSpec {
  return { method, path, handlers };
}

/** The value of a `:name` parameter (namedParams has checked it before any handler runs). */
export function param(req: { params: Record<string, unknown> }, name: string): string {
  return String(req.params[name]);
}

/** The `:name` parameters of an express path, in order (a `*wildcard` is not a name and is not listed). */
export function paramNames(path: string): string[] {
  return [...path.matchAll(/:([A-Za-z_$][\w$]*)/g)].map((m) => m[1]!);
}

/** Groups a table by path, keeping the order of first appearance (express matches in that order). */
export function byPath(specs: readonly RouteSpec[]): Map<string, RouteSpec[]> {
  const groups = new Map<string, RouteSpec[]>();
  for (const spec of specs) {
    const group = groups.get(spec.path);
    if (group) group.push(spec);
    else groups.set(spec.path, [spec]);
  }
  return groups;
}

/**
 * Mounts a route table. Every `:name` is checked as a Ringcast name once the method has matched and
 * before any guard (a bad id is 400 RC_BAD_PATH even without the secret); a known path with another
 * method is 405. The 405 goes after every method of the path, wherever the table lists them, so one
 * path may be served by rows from several files (docs/architecture.md, "URLs").
 */
export function mountRoutes(app: Express, specs: readonly RouteSpec[]): void {
  for (const [path, group] of byPath(specs)) {
    const route = app.route(path);
    const check = namedParams(...paramNames(path));
    for (const spec of group) route[spec.method](check, ...spec.handlers);
    route.all(methodNotAllowed);
  }
}

/**
 * The query as sent, read the way the hand-made router read it (first value of a repeated key wins),
 * rather than express's parsed `req.query`, whose repeated keys become arrays.
 */
export function queryOf(req: IncomingMessage | Request): URLSearchParams {
  const raw = (req as Request).originalUrl ?? req.url ?? '';
  const q = raw.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
}

/** A request target that is not a path (`*`, an absolute URL) is RC_BAD_PATH, not routed by its tail. */
export const originFormOnly: RequestHandler = (req, _res, next) =>
  next(req.url.startsWith('/') ? undefined : new RingcastError('RC_BAD_PATH'));

/**
 * The unread rest of an over-large body leaves the connection unusable (it is reset once the answer is
 * out): say so, or a keep-alive client sends its next request into the reset.
 */
export const closeAfterOversizedBody: ErrorRequestHandler = (err, _req, res, next) => {
  if (err instanceof RingcastError && err.code === 'RC_BODY_TOO_LARGE' && !res.headersSent)
    res.setHeader('connection', 'close');
  next(err);
};
