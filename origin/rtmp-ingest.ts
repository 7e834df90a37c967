import { createServer, type Server, type Socket } from 'node:net';
import Context from 'node-media-server/src/core/context.js';
import nmsLogger from 'node-media-server/src/core/logger.js';
import RtmpSession from 'node-media-server/src/session/rtmp_session.js';
import type { Logger } from '../common/log.ts';

export interface RtmpIngestOptions {
  host: string;
  /** 0 = the OS picks. */
  port: number;
  /** The only stream name a publisher may use under app `live`. */
  streamKey: string;
  /** False while the stream is fed by the test source: every publisher is refused. */
  acceptPublishers: boolean;
  log: Logger;
  /** A publisher with the right key started. */
  onPublishStart?: (info: { sessionId: string; ip: string }) => void;
  /** That publisher's connection closed. */
  onPublishEnd?: (info: { sessionId: string; ip: string }) => void;
  /** A publisher was refused. */
  onRefused?: (reason: string) => void;
}

/** Shows enough of a stream key to recognise it in a log, never the secret itself. */
export function redactKey(key: string): string {
  return key.length <= 4 ? `…(${key.length} chars)` : `${key.slice(0, 2)}…(${key.length} chars)`;
}

const isLoopback = (ip: string) => /^(127\.|::1|::ffff:127\.)/.test(ip);

/**
 * RTMP ingest on node-media-server's session code behind our own TCP listener (NMS's listener
 * ignores port 0). Publishers are checked in `prePublish`, before any media is read: only the
 * configured key, only one at a time. Players are limited to loopback (the origin's own ffmpeg).
 */
export class RtmpIngest {
  private readonly opts: RtmpIngestOptions;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Sessions of this listener: NMS's event bus is process-wide and may carry other listeners' sessions. */
  private readonly mine = new WeakSet<RtmpSession>();
  private publisher: RtmpSession | undefined;
  private readonly onPrePublish = (s: RtmpSession) => this.checkPublisher(s);
  private readonly onPrePlay = (s: RtmpSession) => this.checkPlayer(s);

  constructor(opts: RtmpIngestOptions) {
    this.opts = opts;
  }

  /** Listens; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.server) return this.port;
    routeNmsLogs(this.opts.log);
    Context.eventEmitter.on('prePublish', this.onPrePublish);
    Context.eventEmitter.on('prePlay', this.onPrePlay);
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return this.port;
  }

  get port(): number {
    const addr = this.server?.address();
    return addr && typeof addr === 'object' ? addr.port : 0;
  }

  /** True while a publisher with the right key is connected. */
  get publishing(): boolean {
    return this.publisher !== undefined;
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    Context.eventEmitter.off('prePublish', this.onPrePublish);
    Context.eventEmitter.off('prePlay', this.onPrePlay);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    this.server = undefined;
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.setNoDelay(true);
    const session = new RtmpSession(socket);
    this.mine.add(session);
    session.run();
    Context.sessions.set(session.id, session);
  }

  private checkPublisher(session: RtmpSession): void {
    if (!this.mine.has(session)) return;
    const who = { sessionId: session.id, ip: session.ip, app: session.streamApp };
    let reason: string | undefined;
    if (!this.opts.acceptPublishers) reason = 'the stream is fed by the built-in test source';
    else if (session.streamApp !== 'live' || session.streamName !== this.opts.streamKey)
      reason = 'wrong stream key';
    else if (this.publisher) reason = 'the stream already has a publisher';
    if (reason) {
      this.opts.log.warn({ ...who, key: redactKey(session.streamName) }, `publish refused: ${reason}`);
      // destroy, not end: stop reading now, so no media of a refused publisher is parsed.
      session.socket.destroy();
      this.opts.onRefused?.(reason);
      return;
    }
    this.publisher = session;
    this.opts.log.info(who, 'publisher connected');
    session.socket.once('close', () => {
      if (this.publisher !== session) return;
      this.publisher = undefined;
      this.opts.log.info(who, 'publisher left');
      this.opts.onPublishEnd?.({ sessionId: session.id, ip: session.ip });
    });
    // After NMS has registered the publisher, so the transcoder's pull finds it.
    setImmediate(() => {
      if (this.publisher === session) this.opts.onPublishStart?.({ sessionId: session.id, ip: session.ip });
    });
  }

  private checkPlayer(session: RtmpSession): void {
    if (!this.mine.has(session)) return;
    if (isLoopback(session.socket.remoteAddress ?? '') && session.streamName === this.opts.streamKey) return;
    this.opts.log.warn({ sessionId: session.id, ip: session.ip }, 'RTMP play refused');
    session.socket.destroy();
  }
}

/** node-media-server writes to the console; its lines go to our log at debug level instead. */
function routeNmsLogs(log: Logger): void {
  const child = log.child({ component: 'node-media-server' });
  nmsLogger.level = 'error';
  nmsLogger.log = (message: string) => child.debug(message);
}
