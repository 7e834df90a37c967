import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../common/log.ts';
import type { SourceInfo } from './ladder-choice.ts';
import { RtmpConnection, routeNmsLogs } from './nms-adapter.ts';
import { PendingConnections, type PendingLimits } from './pending-connections.ts';
import { addressOf, PublishBackoff, type PublishBackoffPolicy } from './publish-backoff.ts';
import type { PublishVerdict, RtmpRejectReason } from './rtmp-connection-types.ts';
import { boundPort, closeTcp, listenTcp } from './tcp-listen.ts';

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
  /** A connection was closed for what it sent (malformed, too large, back-off, idle, play refused). */
  onRejected?: (reason: RtmpRejectReason) => void;
  /** Limits on refused publish attempts per address (defaults: DEFAULT_PUBLISH_BACKOFF). */
  publishBackoff?: Partial<PublishBackoffPolicy>;
  /** Connections waiting unadmitted, per address and in all (defaults: DEFAULT_PENDING_LIMITS). */
  pendingLimits?: Partial<PendingLimits>;
}

/**
 * What publish-auth said: the stream the key feeds, or why it was refused (`unreachable`: no verdict on
 * the key, so the attempt does not count against the address).
 */
export type PublishAuthResult = { streamId: string } | { refused: string; unreachable?: boolean };

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

const isLoopback = (ip: string) => ip === '::1' || /^(::ffff:)?127\./.test(ip);
/** Characters node-media-server accepts in a stream name: any other key is refused without asking. */
const KEY_RE = /^[A-Za-z0-9_-]{1,256}$/;

/**
 * RTMP ingest on node-media-server's session code (through origin/nms-adapter.ts) behind our own TCP
 * listener (NMS's listener ignores port 0). Each connection is fenced: what it sends closes at most
 * itself. Publishers are checked before NMS answers them or reads their media: the configured key, or
 * the coordinator's word; one per stream; refused attempts are limited per address. Players are
 * limited to loopback (the origin's own ffmpeg).
 */
export class RtmpIngest {
  private readonly opts: RtmpIngestOptions;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Accepted publishers by streamId: one per stream. */
  private readonly publishers = new Map<string, { conn: RtmpConnection; key: string; path: string }>();
  private readonly backoff: PublishBackoff;
  private readonly pending: PendingConnections;
  /** The place each unadmitted connection holds; given back on admission or close. */
  private readonly places = new Map<RtmpConnection, () => void>();

  constructor(opts: RtmpIngestOptions) {
    this.opts = opts;
    this.backoff = new PublishBackoff(opts.publishBackoff);
    this.pending = new PendingConnections(opts.pendingLimits);
  }

  /** Listens; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.server) return this.port;
    routeNmsLogs(this.opts.log);
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    return listenTcp(server, this.opts.port, this.opts.host);
  }

  get port(): number {
    return boundPort(this.server);
  }

  /** True while a publisher with an accepted key is connected (to `streamId`, or to any stream). */
  publishing(streamId?: string): boolean {
    return streamId === undefined ? this.publishers.size > 0 : this.publishers.has(streamId);
  }

  /**
   * The name the live publisher of `streamId` is filed under inside NMS (`/live/<path>`), for the
   * transcoder's local pull: a random name per publish, so the key never reaches a command line.
   */
  inputPathOf(streamId: string): string | undefined {
    return this.publishers.get(streamId)?.path;
  }

  /**
   * What the live publisher of `streamId` said about its video in onMetaData, waiting up to `waitMs` for
   * it (it comes right after publish); undefined if it did not say.
   */
  async sourceOf(streamId: string, waitMs = 1500): Promise<SourceInfo | undefined> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const conn = this.publishers.get(streamId)?.conn;
      if (!conn) return undefined;
      const meta = conn.sourceMeta();
      if (meta) return { ...meta, fps: meta.fps || undefined };
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
    this.opts.log.warn({ streamId, sessionId: p.conn.id }, `publisher disconnected: ${reason}`);
    p.conn.socket.destroy();
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    if (!this.server) return;
    await closeTcp(this.server, this.sockets);
    this.server = undefined;
  }

  /** Takes one connection: from the plain listener, or decrypted by the RTMPS one (rtmps-listener.ts). */
  accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.setNoDelay(true);
    socket.on('error', () => {}); // resets from broken clients: NMS logs them; they must not throw
    const ip = `${socket.remoteAddress}:${socket.remotePort}`;
    const place = this.pending.take(addressOf(ip), !isLoopback(socket.remoteAddress ?? ''));
    if ('refused' in place) {
      this.opts.log.warn({ ip, reason: 'too_many_connections' }, `RTMP connection closed: ${place.refused}`);
      this.opts.onRejected?.('too_many_connections');
      socket.destroy();
      return;
    }
    socket.once('close', place.release);
    const conn = new RtmpConnection(socket, {
      onPublishRequest: (c, app, key) => this.decidePublish(c, app, key),
      onPlayRequest: (c, _app, name) => this.allowPlay(c, name),
      onRejected: (c, reason, detail) => {
        this.opts.log.warn({ sessionId: c.id, ip: c.ip, reason }, `RTMP connection closed: ${detail}`);
        this.opts.onRejected?.(reason);
      },
    });
    this.places.set(conn, place.release);
    socket.once('close', () => this.places.delete(conn));
    // A client that connects and never publishes or plays (or speaks no RTMP) holds a socket forever.
    const idle = setTimeout(() => {
      if (!conn.engaged) conn.reject('idle', 'no publish or play in time');
    }, this.opts.idleTimeoutMs ?? 10_000);
    idle.unref();
    socket.once('close', () => {
      clearTimeout(idle);
      if (!conn.engaged && !conn.rejected)
        this.opts.log.warn(
          { sessionId: conn.id, ip: conn.ip, bytesRead: socket.bytesRead },
          'RTMP connection closed before publish or play (not RTMP, or nothing sent)',
        );
    });
    conn.run();
  }

  /** Decides a publish request; the socket is paused meanwhile, so no media is read. */
  private async decidePublish(conn: RtmpConnection, app: string, key: string): Promise<PublishVerdict> {
    const address = addressOf(conn.ip);
    const lockedMs = this.backoff.lockedFor(address);
    if (lockedMs > 0) {
      const detail = `publish refused at once: too many refused attempts from ${address}`;
      this.opts.log.warn({ sessionId: conn.id, ip: conn.ip, reason: 'backoff', lockedMs }, detail);
      this.opts.onRejected?.('backoff');
      const retry = Math.ceil(lockedMs / 1000);
      return refusal(`too many refused attempts from this address; retry in ${retry} s`);
    }
    const result = await this.verdictFor(app, key);
    const reason = this.refusalReason(conn, result);
    const who = { sessionId: conn.id, ip: conn.ip, app };
    const streamId = 'streamId' in result ? result.streamId : '';
    if (reason) {
      this.opts.log.warn({ ...who, streamId, key: redactKey(key) }, `publish refused: ${reason}`);
      this.opts.onRefused?.(reason);
      // Only a verdict on the key itself counts against the address.
      if ('refused' in result && !result.unreachable) this.backoff.refused(address);
      return refusal(reason, reason === ALREADY_LIVE ? 'NetStream.Publish.BadName' : undefined);
    }
    this.backoff.accepted(address);
    const path = randomBytes(12).toString('hex');
    this.register(conn, { streamId, key, path }, who);
    return { admit: true, path };
  }

  private async verdictFor(app: string, key: string): Promise<PublishAuthResult> {
    const own = this.opts.streamKey;
    if (app === 'live' && own && key === own) {
      return this.opts.acceptPublishers
        ? { streamId: this.opts.streamId }
        : { refused: 'the stream is fed by the built-in test source', unreachable: true };
    }
    if (app !== 'live' || !KEY_RE.test(key) || !this.opts.authorize) return { refused: 'wrong stream key' };
    try {
      return await this.opts.authorize(key);
    } catch (err) {
      return { refused: `key check failed: ${(err as Error).message}`, unreachable: true };
    }
  }

  private refusalReason(conn: RtmpConnection, result: PublishAuthResult): string | undefined {
    if ('refused' in result) return result.refused;
    if (this.publishers.has(result.streamId)) return ALREADY_LIVE;
    if (result.streamId === this.opts.streamId && !this.opts.acceptPublishers)
      return 'the stream is fed by the built-in test source';
    if (conn.socket.destroyed) return 'the publisher left during the key check';
    return undefined;
  }

  private register(
    conn: RtmpConnection,
    { streamId, key, path }: { streamId: string; key: string; path: string },
    who: Record<string, string>,
  ): void {
    const info: PublisherInfo = { sessionId: conn.id, ip: conn.ip, streamId, key };
    this.admitted(conn);
    this.publishers.set(streamId, { conn, key, path });
    this.opts.log.info({ ...who, streamId }, 'publisher connected');
    conn.socket.once('close', () => {
      if (this.publishers.get(streamId)?.conn !== conn) return;
      this.publishers.delete(streamId);
      this.opts.log.info({ ...who, streamId }, 'publisher left');
      this.opts.onPublishEnd?.(info);
    });
    // After NMS has registered the publisher, so the transcoder's pull finds it.
    setImmediate(() => {
      if (this.publishers.get(streamId)?.conn === conn) this.opts.onPublishStart?.(info);
    });
  }

  private allowPlay(conn: RtmpConnection, name: string): boolean {
    const live = [...this.publishers.values()].some((p) => p.path === name);
    const allowed = isLoopback(conn.socket.remoteAddress ?? '') && live;
    if (allowed) this.admitted(conn);
    return allowed;
  }

  /** An accepted publisher or the origin's own pull no longer counts as waiting. */
  private admitted(conn: RtmpConnection): void {
    this.places.get(conn)?.();
    this.places.delete(conn);
  }
}

const ALREADY_LIVE = 'the stream already has a publisher';

function refusal(
  reason: string,
  status: 'NetStream.Publish.Unauthorized' | 'NetStream.Publish.BadName' = 'NetStream.Publish.Unauthorized',
): PublishVerdict {
  return { admit: false, reason, status };
}
