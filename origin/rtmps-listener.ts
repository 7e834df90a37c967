import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import type { Logger } from '../common/log.ts';
import type { TlsFiles } from '../common/tls-files.ts';
import { PendingConnections, type PendingLimits } from './pending-connections.ts';
import { addressOf } from './publish-backoff.ts';
import { boundPort, closeTcp, listenTcp } from './tcp-listen.ts';

export interface RtmpsListenerOptions {
  host: string;
  /** 0 = the OS picks. */
  port: number;
  /** The certificate; a renewal on disk is used for the next handshakes. */
  tls: TlsFiles;
  log: Logger;
  /** A handshake not finished within this long is dropped (default 10 s, the RTMP idle timeout). */
  handshakeTimeoutMs?: number;
  /** Handshakes in progress, per address and in all (defaults: DEFAULT_PENDING_LIMITS). */
  pendingLimits?: Partial<PendingLimits>;
  /** A connection whose handshake finished: handed to the same RTMP handling as the plain port. */
  onSocket: (socket: TLSSocket) => void;
  /** A handshake failed (not TLS, no common cipher, timed out) or too many were in progress. */
  onRefused?: (reason: 'tls_handshake' | 'too_many_connections') => void;
}

/**
 * RTMPS ingest: a TLS terminator in front of the RTMP ingest. It only does the handshake; each
 * decrypted connection then goes to RtmpIngest like a plain one, so every pre-auth cap, key check and
 * back-off applies to it the same way. Handshakes in progress are limited per address and in all, as
 * unadmitted RTMP connections are.
 */
export class RtmpsListener {
  private readonly opts: RtmpsListenerOptions;
  /** Takes TCP connections and counts them before the TLS server sees a byte. */
  private server: Server | undefined;
  private tlsServer: TlsServer | undefined;
  private readonly raw = new Set<Socket>();
  private readonly handshaking: PendingConnections;
  /** The place each connection in handshake holds, by peer. */
  private readonly places = new Map<string, () => void>();

  constructor(opts: RtmpsListenerOptions) {
    this.opts = opts;
    this.handshaking = new PendingConnections(opts.pendingLimits);
  }

  /** Listens; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.server) return this.port;
    this.tlsServer = this.createTls();
    const server = createTcpServer((socket) => this.connected(socket));
    this.server = server;
    return listenTcp(server, this.opts.port, this.opts.host);
  }

  /** The TLS side: never listens itself; it is given the connections that got a place. */
  private createTls(): TlsServer {
    const tlsServer = createTlsServer({
      ...this.opts.tls.options,
      minVersion: 'TLSv1.2',
      handshakeTimeout: this.opts.handshakeTimeoutMs ?? 10_000,
    });
    tlsServer.on('secureConnection', (socket: TLSSocket) => this.secured(socket));
    tlsServer.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      this.opts.log.warn(
        { ip: `${socket.remoteAddress}:${socket.remotePort}`, reason: 'tls_handshake', detail: err.message },
        'RTMPS connection closed: TLS handshake failed',
      );
      this.opts.onRefused?.('tls_handshake');
      socket.destroy();
    });
    this.opts.tls.serve(tlsServer);
    return tlsServer;
  }

  get port(): number {
    return boundPort(this.server);
  }

  /** Handshakes in progress now (for tests). */
  get handshakes(): number {
    return this.handshaking.size;
  }

  /** Stops listening and drops every connection it accepted (decrypted ones too). */
  async close(): Promise<void> {
    if (!this.server) return;
    await closeTcp(this.server, this.raw);
    this.server = undefined;
  }

  /** A TCP connection before its handshake: counted until the handshake ends either way. */
  private connected(socket: Socket): void {
    this.raw.add(socket);
    socket.once('close', () => this.raw.delete(socket));
    socket.on('error', () => {}); // resets from broken clients must not throw
    const place = this.handshaking.take(addressOf(peerOf(socket)));
    if ('refused' in place) {
      this.opts.log.warn({ ip: socket.remoteAddress, reason: 'too_many_connections' }, place.refused);
      this.opts.onRefused?.('too_many_connections');
      socket.destroy();
      return;
    }
    const peer = peerOf(socket);
    socket.once('close', () => {
      place.release();
      this.places.delete(peer);
    });
    this.places.set(peer, place.release);
    this.tlsServer?.emit('connection', socket);
  }

  /** The handshake finished: no longer counted, handed on. */
  private secured(socket: TLSSocket): void {
    const peer = peerOf(socket);
    this.places.get(peer)?.();
    this.places.delete(peer);
    this.opts.onSocket(socket);
  }
}

/** A connection's peer (a TLS socket has its TCP socket's): unique among this listener's connections. */
const peerOf = (socket: Socket) => `${socket.remoteAddress}:${socket.remotePort}`;
