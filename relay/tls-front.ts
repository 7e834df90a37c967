import {
  constants,
  createSecureServer,
  type Http2SecureServer,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { PREFLIGHT_HEADERS } from '../common/hls-http.ts';
import { HANDSHAKE_TIMEOUT_MS, listenHttps } from '../common/https-server.ts';
import type { TlsFiles } from '../common/tls-files.ts';
import type { FastHttp } from './fast-http.ts';
import { type H2FrontDeps, isLiveStream, serveLiveStream } from './h2-front.ts';
import type { FrontDeps, RelayFront } from './plain-front.ts';

export interface TlsFrontDeps extends FrontDeps {
  tls: TlsFiles;
  /** `/live/` streams over HTTP/2. */
  h2: H2FrontDeps;
}

/**
 * The relay's one TLS port: ALPN `h2` and `http/1.1` (or none). Node's HTTP/2 server does the TLS and
 * both protocols; as installFastPath does for `connection` on plain HTTP, its `secureConnection` and
 * `stream` listeners are taken over: HTTP/1.1 sockets go to the raw-socket fast path (which hands the
 * rest to Node's HTTP/1.1 handler), HTTP/2 `/live/` streams are answered by writing plans (h2-front.ts).
 * Other HTTP/2 paths (`/healthz`, `/metrics`) are refused with HTTP_1_1_REQUIRED, which clients (curl,
 * browsers) answer by retrying over HTTP/1.1: express does not run on Node's HTTP/2 compatibility API.
 */
export class TlsFront implements RelayFront {
  readonly server: Http2SecureServer;
  readonly fast: FastHttp | undefined;
  private readonly sessions = new Set<Http2Session>();
  private readonly sockets = new Set<TLSSocket>();

  constructor(private readonly deps: TlsFrontDeps) {
    const server = createSecureServer({
      ...deps.tls.options,
      allowHTTP1: true,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      // nginx's http2_max_concurrent_streams; Node's default is unbounded.
      settings: { maxConcurrentStreams: H2_MAX_STREAMS },
      // Node counts every queued outbound byte of a session against this (default 10 MB) and resets
      // streams past it with ENHANCE_YOUR_CALM: eleven 1 MB segments in flight on one connection were
      // refused. The bytes are the cache's shared buffers, not copies; a full stream table of segments fits.
      maxSessionMemory: H2_MAX_STREAMS * 1.5,
    });
    server.on('request', deps.onRequest);
    server.on('clientError', deps.onClientError);
    // Read by Node's HTTP/1.1 handling of this server (allowHTTP1), as on a plain http server.
    (server as unknown as { keepAliveTimeout: number }).keepAliveTimeout = deps.keepAliveMs;
    server.setTimeout(deps.stallMs);
    this.server = server;
    this.takeOverStreams();
    this.fast = this.takeOverConnections();
    server.on('session', (session: Http2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
    });
    // A handshake that fails (plain HTTP sent to this port, a client that does not trust us) ends there.
    server.on('tlsClientError', (err: NodeJS.ErrnoException) =>
      deps.log.debug({ code: err.code, reason: err.message }, 'TLS handshake failed'),
    );
    deps.tls.serve(server);
  }

  /** Listens; resolves with `https://host:port`. */
  listen(port: number, host: string): Promise<string> {
    return listenHttps(this.server, port, host);
  }

  /** Stops intake and watching the files; HTTP/2 sessions get GOAWAY, idle fast-path connections end. */
  close(): Promise<void> {
    const closed = new Promise<void>((done) => {
      if (this.server.listening) this.server.close(() => done());
      else done();
    });
    for (const session of this.sessions) session.close();
    this.fast?.close(false);
    this.deps.tls.close();
    return closed;
  }

  destroyAll(): void {
    for (const session of this.sessions) session.destroy();
    for (const socket of this.sockets) socket.destroy();
    this.fast?.close(true);
  }

  /**
   * HTTP/2 streams: `/live/` and CORS preflights here (a browser told to use HTTP/1.1 keeps to it for the
   * whole host), anything else told to use HTTP/1.1.
   */
  private takeOverStreams(): void {
    // The 'request' listener made Node add its compatibility 'stream' listener: ours replaces it.
    this.server.removeAllListeners('stream');
    this.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      if (isLiveStream(headers)) {
        serveLiveStream(stream, headers, this.deps.h2);
        return;
      }
      stream.on('error', () => {});
      if (headers[':method'] === 'OPTIONS')
        stream.respond({ ':status': 204, ...PREFLIGHT_HEADERS }, { endStream: true });
      else stream.close(constants.NGHTTP2_HTTP_1_1_REQUIRED);
    });
  }

  /** TLS connections: `h2` to Node's HTTP/2 session listener, HTTP/1.1 to the fast path first. */
  private takeOverConnections(): FastHttp | undefined {
    const listeners = this.server.listeners('secureConnection');
    const makeFast = this.deps.fast;
    if (listeners.length !== 1) {
      this.deps.log.warn('TLS fast path not installed: unexpected secureConnection listeners');
      return undefined;
    }
    const nodeConnection = listeners[0] as (socket: Socket) => void;
    const fast = makeFast?.((socket) => nodeConnection.call(this.server, socket));
    this.server.removeListener('secureConnection', nodeConnection);
    this.server.on('secureConnection', (socket: TLSSocket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      if (fast && socket.alpnProtocol !== 'h2') fast.attach(socket);
      else nodeConnection.call(this.server, socket);
    });
    return fast;
  }
}

/** Concurrent streams per HTTP/2 connection, as nginx allows (http2_max_concurrent_streams). */
const H2_MAX_STREAMS = 128;
