import type { IncomingMessage, ServerResponse } from 'node:http';
import { RingcastError } from '../common/errors.ts';
import { checkName } from '../common/names.ts';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** `:name` segments, each already checked against NAME_RE. */
  params: Record<string, string>;
  /** The rest of the path for a trailing `*` route, still percent-encoded. */
  rest: string;
  query: URLSearchParams;
}

export type RouteHandler = (ctx: RouteContext) => void | Promise<void>;

interface Route {
  method: string;
  segments: string[];
  handler: RouteHandler;
}

/**
 * A small method-and-path router. Every `:name` segment is validated as a Ringcast name before the
 * handler runs, so a bad stream or relay id is a 400 before any state or file is touched.
 */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: RouteHandler): this {
    this.routes.push({ method, segments: pattern.split('/').slice(1), handler });
    return this;
  }

  /** Finds and runs the handler; throws RC_NOT_FOUND, RC_METHOD_NOT_ALLOWED or RC_BAD_PATH. */
  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    pathname: string,
    query: URLSearchParams,
  ): Promise<void> {
    const parts = pathname.split('/').slice(1);
    let pathMatched = false;
    for (const route of this.routes) {
      const m = match(route.segments, parts);
      if (!m) continue;
      pathMatched = true;
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      if (route.method !== method) continue;
      for (const [name, value] of Object.entries(m.params)) checkName(value, name);
      await route.handler({ req, res, params: m.params, rest: m.rest, query });
      return;
    }
    throw new RingcastError(pathMatched ? 'RC_METHOD_NOT_ALLOWED' : 'RC_NOT_FOUND');
  }
}

function match(
  pattern: string[],
  parts: string[],
): { params: Record<string, string>; rest: string } | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p === '*') return { params, rest: parts.slice(i).join('/') };
    const part = parts[i];
    if (part === undefined) return undefined;
    if (p.startsWith(':')) params[p.slice(1)] = part;
    else if (p !== part) return undefined;
  }
  return parts.length === pattern.length ? { params, rest: '' } : undefined;
}
