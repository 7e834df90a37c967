import { createServer, type Server, type Socket } from 'node:net';
import Context from 'node-media-server/src/core/context.js';
import nmsLogger from 'node-media-server/src/core/logger.js';
import RtmpSession from 'node-media-server/src/session/rtmp_session.js';
import type { Logger } from '../common/log.ts';
import type { SourceInfo } from './live-stream.ts';

export interface RtmpIngestOptions {
  host: string;
  /** 0 = the OS picks. */
  port: number;
  /** The configured key ('' = none): it publishes as `streamId` without asking anyone. */
  streamKey: string;
  /** The stream the configured key feeds. */
  streamId: string;
  /** False while the configured stream is fed by the test source: its publishers are refused. */
  acceptPublishers: boolean;
  /**
   * Any other key is asked about here (the coordinator's publish-auth); the socket is paused until
   * the answer, so no media is read. Without it only the configured key publishes.
   */
  authorize?: (key: string) => Promise<PublishAuthResult>;
  /** No publish or play within this long after connecting: the connection is dropped. */
  idleTimeoutMs?: number;
  log: Logger;
  /** A publisher with an accepted key started. */
  onPublishStart?: (info: PublisherInfo) => void;
  /** That publisher's connection closed. */
  onPublishEnd?: (info: PublisherInfo) => void;
  /** A publisher was refused. */
  onRefused?: (reason: string) => void;
}

/** What publish-auth said: the stream the key feeds, or why it was refused. */
export type PublishAuthResult = { streamId: string } | { refused: string };

/** An accepted publisher: the NMS path it feeds is `/live/<key>`. */
export interface PublisherInfo {
  sessionId: string;
  ip: string;
  streamId: string;
  key: string;
}

/** Shows enough of a stream key to recognise it in a log, never the secret itself. */
export function redactKey(key: string): string {
  return key.length <= 4 ? `…(${key.length} chars)` : `${key.slice(0, 2)}…(${key.length} chars)`;
}

/** FLV codec ids (onMetaData videocodecid / audiocodecid). */
const FLV_VIDEO: Record<number, string> = {
  2: 'flv1',
  3: 'screen',
  4: 'vp6',
  5: 'vp6a',
  7: 'h264',
  12: 'hevc',
};
const FLV_AUDIO: Record<number, string> = {
  1: 'adpcm',
  2: 'mp3',
  7: 'g711a',
  8: 'g711u',
  10: 'aac',
  11: 'speex',
};

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
  /** Sessions that reached publish or play (accepted or not). */
  private readonly engaged = new WeakSet<RtmpSession>();
  /** Accepted publishers by streamId: one per stream. */
  private readonly publishers = new Map<string, { session: RtmpSession; key: string }>();
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

  /** True while a publisher with an accepted key is connected (to `streamId`, or to any stream). */
  publishing(streamId?: string): boolean {
    return streamId === undefined ? this.publishers.size > 0 : this.publishers.has(streamId);
  }

  /** The key the live publisher of `streamId` uses (its NMS path is `/live/<key>`). */
  keyOf(streamId: string): string | undefined {
    return this.publishers.get(streamId)?.key;
  }

  /**
   * What the live publisher of `streamId` said about its video in onMetaData, waiting up to `waitMs` for
   * it (it comes right after publish); undefined if it did not say.
   */
  async sourceOf(streamId: string, waitMs = 1500): Promise<SourceInfo | undefined> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const s = this.publishers.get(streamId)?.session;
      if (!s) return undefined;
      if (s.videoWidth > 0 && s.videoHeight > 0)
        return {
          width: s.videoWidth,
          height: s.videoHeight,
          fps: Math.round(s.videoFramerate) || undefined,
          videoCodec: FLV_VIDEO[s.videoCodec] ?? `id ${s.videoCodec}`,
          audioCodec: s.audioCodec ? (FLV_AUDIO[s.audioCodec] ?? `id ${s.audioCodec}`) : undefined,
        };
      if (Date.now() >= deadline) return undefined;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Live publishers as streamId → key (for re-checking keys that were revoked meanwhile). */
  liveKeys(): Array<{ streamId: string; key: string }> {
    return [...this.publishers].map(([streamId, p]) => ({ streamId, key: p.key }));
  }

  /** Drops the live publisher of `streamId` (its key was revoked or rotated out). */
  disconnect(streamId: string, reason: string): void {
    const p = this.publishers.get(streamId);
    if (!p) return;
    this.opts.log.warn({ streamId, sessionId: p.session.id }, `publisher disconnected: ${reason}`);
    p.session.socket.destroy();
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
    socket.on('error', () => {}); // resets from broken clients: NMS logs them; they must not throw
    const session = new RtmpSession(socket);
    // A client that connects and never publishes or plays (or speaks no RTMP) holds a socket forever.
    const idle = setTimeout(() => {
      if (this.engaged.has(session)) return;
      this.opts.log.warn(
        { sessionId: session.id, ip: session.ip },
        'RTMP connection idle: no publish or play; dropped',
      );
      socket.destroy();
    }, this.opts.idleTimeoutMs ?? 10_000);
    idle.unref();
    socket.once('close', () => {
      clearTimeout(idle);
      if (!this.engaged.has(session))
        this.opts.log.warn(
          { sessionId: session.id, ip: session.ip, bytesRead: socket.bytesRead },
          'RTMP connection closed before publish or play (not RTMP, or nothing sent)',
        );
    });
    this.mine.add(session);
    session.run();
    Context.sessions.set(session.id, session);
  }

  private checkPublisher(session: RtmpSession): void {
    if (!this.mine.has(session)) return;
    this.engaged.add(session);
    const key = session.streamName;
    if (session.streamApp === 'live' && this.opts.streamKey && key === this.opts.streamKey) {
      const reason = this.opts.acceptPublishers ? undefined : 'the stream is fed by the built-in test source';
      this.admit(session, reason ? { refused: reason } : { streamId: this.opts.streamId });
      return;
    }
    if (session.streamApp !== 'live' || !this.opts.authorize) {
      this.admit(session, { refused: 'wrong stream key' });
      return;
    }
    // Hold the socket until the coordinator answers: nothing more of this publisher is parsed meanwhile.
    session.socket.pause();
    this.opts.authorize(key).then(
      (result) => this.admit(session, result),
      (err) => this.admit(session, { refused: `key check failed: ${(err as Error).message}` }),
    );
  }

  private admit(session: RtmpSession, result: PublishAuthResult): void {
    const key = session.streamName;
    const who = { sessionId: session.id, ip: session.ip, app: session.streamApp };
    let reason = 'refused' in result ? result.refused : undefined;
    const streamId = 'streamId' in result ? result.streamId : '';
    if (!reason && this.publishers.has(streamId)) reason = 'the stream already has a publisher';
    if (!reason && streamId === this.opts.streamId && !this.opts.acceptPublishers)
      reason = 'the stream is fed by the built-in test source';
    if (!reason && session.socket.destroyed) reason = 'the publisher left during the key check';
    if (reason) {
      this.opts.log.warn({ ...who, streamId, key: redactKey(key) }, `publish refused: ${reason}`);
      // destroy, not end: stop reading now, so no media of a refused publisher is parsed.
      session.socket.destroy();
      this.opts.onRefused?.(reason);
      return;
    }
    const info: PublisherInfo = { sessionId: session.id, ip: session.ip, streamId, key };
    this.publishers.set(streamId, { session, key });
    this.opts.log.info({ ...who, streamId }, 'publisher connected');
    session.socket.once('close', () => {
      if (this.publishers.get(streamId)?.session !== session) return;
      this.publishers.delete(streamId);
      this.opts.log.info({ ...who, streamId }, 'publisher left');
      this.opts.onPublishEnd?.(info);
    });
    session.socket.resume();
    // After NMS has registered the publisher, so the transcoder's pull finds it.
    setImmediate(() => {
      if (this.publishers.get(streamId)?.session === session) this.opts.onPublishStart?.(info);
    });
  }

  private checkPlayer(session: RtmpSession): void {
    if (!this.mine.has(session)) return;
    this.engaged.add(session);
    const live = [...this.publishers.values()].some((p) => p.key === session.streamName);
    const own = session.streamName === this.opts.streamKey && this.opts.streamKey !== '';
    if (isLoopback(session.socket.remoteAddress ?? '') && (live || own)) return;
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
