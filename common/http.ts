import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { RingcastError, toRingcastError } from './errors.ts';
import type { Logger } from './log.ts';
import { AUTH_HEADER } from './types.ts';

/** Writes `{"error":{"code","message"}}` with the error's status; logs 5xx. */
export function sendError(res: ServerResponse, err: unknown, log?: Logger): void {
  const e = toRingcastError(err);
  if (e.status >= 500) log?.error({ err: e.cause ?? e, code: e.code }, e.message);
  else log?.debug({ code: e.code }, e.message);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, e.status, e.toJSON());
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Reads a JSON body of at most `limitBytes`; RC_BODY_TOO_LARGE or RC_BAD_BODY otherwise. */
export async function readJsonBody(req: IncomingMessage, limitBytes = 64 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new RingcastError('RC_BODY_TOO_LARGE', `body is over ${limitBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new RingcastError('RC_BAD_BODY', 'body is not valid JSON');
  }
}

/** Listens and resolves with the base URL (`http://host:port`); port 0 lets the OS choose. */
export function listen(server: Server, port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolve(`http://${h}:${addr.port}`);
    });
  });
}

/** Closes a server, ending idle keep-alive connections so close does not wait on them. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/** True when the request carries `Authorization: Bearer <secret>`. */
export function hasSecret(req: IncomingMessage, secret: string): boolean {
  const h = req.headers[AUTH_HEADER];
  return typeof h === 'string' && h === `Bearer ${secret}`;
}

/** Headers for a call that carries the cluster secret. */
export function authHeaders(secret: string): Record<string, string> {
  return { [AUTH_HEADER]: `Bearer ${secret}`, 'content-type': 'application/json' };
}

/** One retry policy object, as hls.js does: attempts and capped exponential delays. */
export interface RetryPolicy {
  maxNumRetry: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
}

/** Delay before retry number `attempt` (0-based), with a little jitter. */
export function retryDelayMs(policy: RetryPolicy, attempt: number): number {
  const base = Math.min(policy.maxRetryDelayMs, policy.retryDelayMs * 2 ** attempt);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** JSON call to another part with a timeout; throws on a non-2xx answer. */
export async function callJson<T>(
  url: string,
  opts: { method?: string; body?: unknown; secret?: string; timeoutMs?: number } = {},
): Promise<T> {
  const res = await fetch(url, {
    method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
    headers: opts.secret ? authHeaders(opts.secret) : { 'content-type': 'application/json' },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${opts.method ?? 'GET'} ${url}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return (text ? JSON.parse(text) : {}) as T;
}

/** A port that was free a moment ago, for servers that cannot listen on port 0 and say which (nginx, sshd, redis). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
