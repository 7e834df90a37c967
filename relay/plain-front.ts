import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { closeServer, listen } from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import type { FastHttp } from './fast-http.ts';

/** What the relay's app holds of the port it listens on, plain (here) or TLS (tls-front.ts). */
export interface RelayFront {
  /** The raw-socket fast path in front of Node's HTTP/1.1, when on. */
  readonly fast: FastHttp | undefined;
  /** Listens; resolves with the base URL. */
  listen(port: number, host: string): Promise<string>;
  /** Stops intake, ends idle connections; resolves when the server closed. */
  close(): Promise<void>;
  /** Cuts every connection left (after close had its grace time). */
  destroyAll(): void;
}

export interface FrontDeps {
  log: Logger;
  /** Node's HTTP/1.1 handler (relay `handle`): control routes, and what the fast path hands off. */
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  /** What Node's parser refuses (relay `clientError`). */
  onClientError(err: NodeJS.ErrnoException, socket: Duplex): void;
  /** Makes the fast path, given how it hands a connection to Node's HTTP/1.1; undefined: off. */
  fast: ((handOff: (socket: Socket) => void) => FastHttp) | undefined;
  keepAliveMs: number;
  /** A response that makes no write progress for this long is cut. */
  stallMs: number;
}

/**
 * The relay's plain HTTP/1.1 port: Node's http server with the raw-socket fast path (fast-http.ts) in
 * front: new connections go to it first and reach Node's connection handler only when they ask for
 * something it does not answer.
 */
export class PlainFront implements RelayFront {
  readonly server: Server;
  readonly fast: FastHttp | undefined;

  constructor(deps: FrontDeps) {
    // The Host check is ours (handle), so its 400 carries a code like every other error.
    const server = createServer({ requireHostHeader: false }, deps.onRequest);
    server.keepAliveTimeout = deps.keepAliveMs;
    // What Node's parser refuses gets a JSON error with its code, as every other error does.
    server.on('clientError', deps.onClientError);
    // A viewer that stops reading would pin its entry forever; no progress for 30 s ends it.
    server.setTimeout(deps.stallMs);
    this.server = server;
    this.fast = deps.fast && this.installFastPath(deps.fast, deps.log);
  }

  listen(port: number, host: string): Promise<string> {
    return listen(this.server, port, host);
  }

  async close(): Promise<void> {
    const closed = closeServer(this.server);
    this.fast?.close(false);
    await closed;
  }

  destroyAll(): void {
    this.server.closeAllConnections();
    this.fast?.close(true);
  }

  private installFastPath(makeFast: NonNullable<FrontDeps['fast']>, log: Logger): FastHttp | undefined {
    const { server } = this;
    const listeners = server.listeners('connection');
    if (listeners.length !== 1) {
      log.warn('fast path not installed: unexpected connection listeners on the http server');
      return undefined;
    }
    const nodeConnection = listeners[0] as (socket: Socket) => void;
    const fast = makeFast((socket) => nodeConnection.call(server, socket));
    server.removeListener('connection', nodeConnection);
    server.on('connection', (socket: Socket) => fast.attach(socket));
    return fast;
  }
}
