import { createServer as createHttpServer, type Server as HttpServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as TlsServer } from 'node:tls';
import { listen } from './http.ts';
import type { TlsFiles } from './tls-files.ts';

/**
 * A TLS handshake not done in this long ends its connection (Node's default is 120 s: on a public port a
 * crowd of silent connections would hold sockets that long).
 */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * A part's HTTP/1.1 server: plain, or HTTPS with `tls`'s pair, renewed on disk without a restart (new
 * handshakes get the new pair, open connections keep theirs). ALPN offers `http/1.1` only: express 5
 * does not run on Node's HTTP/2 compatibility API (it replaces the request's prototype).
 */
export function partServer(handler: RequestListener, tls: TlsFiles | undefined): HttpServer {
  if (!tls) return createHttpServer(handler);
  const options = { ...tls.options, ALPNProtocols: ['http/1.1'], handshakeTimeout: HANDSHAKE_TIMEOUT_MS };
  const server = createHttpsServer(options, handler);
  tls.serve(server);
  // An https.Server is an http.Server over TLS: the same methods (closeIdleConnections included).
  return server as unknown as HttpServer;
}

/**
 * Listens on a TLS server (https, or HTTP/2 with HTTP/1.1) and resolves with `https://host:port`.
 * `listen` uses only what every net server has (listen, address, error events).
 */
export async function listenHttps(
  server: TlsServer | HttpServer,
  port: number,
  host: string,
): Promise<string> {
  const bound = await listen(server as unknown as HttpServer, port, host);
  return bound.replace(/^http:/, 'https:');
}
