import type { Socket } from 'node:net';
import Context from 'node-media-server/src/core/context.js';
import nmsLogger from 'node-media-server/src/core/logger.js';
import RtmpSession, { type Rtmp, type RtmpPacket } from 'node-media-server/src/session/rtmp_session.js';
import type { Logger } from '../common/log.ts';
import {
  type PublishVerdict,
  type RtmpConnectionHooks,
  type RtmpRejectReason,
  type RtmpSourceMeta,
  sourceMetaOf,
} from './rtmp-connection-types.ts';

// Every touch of node-media-server's private `src/` files is in this file (package.json pins the exact
// version they were read from). NMS parses a connection's bytes synchronously in the socket's 'data'
// handler and throws on malformed input; here each connection's parsing is fenced, so a throw closes
// that connection only.

/** Thrown inside the parser to close the connection with a known reason. */
class RtmpReject extends Error {
  constructor(
    readonly reason: RtmpRejectReason,
    message: string,
  ) {
    super(message);
  }
}

/** Largest message (chunk-stream message length) taken before a publish is authorised: a connect is ~200 B. */
export const PRE_AUTH_MESSAGE_CAP = 64 * 1024;

/**
 * Before a publish is authorised: buffer bytes all chunk streams may hold at once (each may hold a
 * message half-read), and chunk streams in use (ffmpeg and OBS use 2 to 6).
 */
const PRE_AUTH_BUFFER_BUDGET = 256 * 1024;
const PRE_AUTH_CHUNK_STREAMS = 32;
/**
 * Before a publish is authorised: answers queued for a peer that does not read them. NMS answers every
 * connect (~80 B) with ~1 KB: unread, 21 MiB of connects grew an origin by 330 MiB in 8 s.
 */
const PRE_AUTH_UNREAD_OUTPUT = 64 * 1024;

/** After a refusal the status is flushed; a peer that never closes its side is cut after this. */
const REFUSAL_LINGER_MS = 2000;

/** Control message types and the payload each needs (RTMP 5.4). */
const CONTROL_MIN_BYTES: Record<number, number> = { 1: 4, 2: 4, 3: 4, 5: 4, 6: 5 };

/**
 * One RTMP connection on node-media-server's session code, with its parsing fenced: a throw, a
 * control message too short for its type, or (before a publish is authorised) a message longer than
 * PRE_AUTH_MESSAGE_CAP closes this connection, and NMS's process-wide state is left as a close leaves it.
 * Publish and play requests go to the hooks before NMS answers them, so a refused publisher is told
 * so (never NetStream.Publish.Start) and nothing it sends is handed on.
 */
export class RtmpConnection {
  readonly socket: Socket;
  /** `address:port` of the peer. */
  readonly ip: string;
  readonly id: string;
  private readonly session: RtmpSession;
  private readonly hooks: RtmpConnectionHooks;
  private authorized = false;
  /** Set between a publish request and its verdict: complete messages wait here. */
  private held: RtmpPacket[] | undefined;
  private heldBytes = 0;
  /** Parser buffer bytes allocated before the publish was authorised. */
  private preAuthAllocated = 0;
  /** A publish or play was asked for (one per connection). */
  engaged = false;
  private closed = false;

  constructor(socket: Socket, hooks: RtmpConnectionHooks) {
    this.socket = socket;
    this.hooks = hooks;
    this.session = new RtmpSession(socket);
    this.id = this.session.id;
    this.ip = this.session.ip;
    this.fence();
    socket.once('close', () => {
      this.closed = true;
    });
  }

  /** Starts reading the socket. */
  run(): void {
    this.session.run();
    Context.sessions.set(this.session.id, this.session);
  }

  /** The app and stream name of the publish or play (empty before one). */
  get app(): string {
    const app = this.session.rtmp.streamApp;
    return typeof app === 'string' ? app : '';
  }

  /** What the publisher said in onMetaData; undefined until it did. */
  sourceMeta(): RtmpSourceMeta | undefined {
    return sourceMetaOf(this.session);
  }

  /** Why the connection was closed for what it sent, if it was. */
  rejected: RtmpRejectReason | undefined;

  /** Closes the connection for what it sent; the hooks hear of it once. */
  reject(reason: RtmpRejectReason, detail: string): void {
    if (this.closed) return;
    this.closed = true;
    this.rejected = reason;
    this.hooks.onRejected(this, reason, detail);
    this.socket.destroy();
  }

  /** Wraps NMS's handlers on this one session (instance properties shadow the prototype's). */
  private fence(): void {
    const s = this.session;
    const rtmp = s.rtmp;
    const onData = s.onData;
    s.onData = (data: Buffer) => {
      if (this.closed) return;
      this.guard(() => onData(data));
    };
    const onClose = s.onClose;
    s.onClose = () => this.guard(onClose);
    this.fenceBuffers(rtmp);
    this.fenceMessages(rtmp);
  }

  /** Before a publish is authorised, NMS allocates nothing past the caps. */
  private fenceBuffers(rtmp: Rtmp): void {
    const proto = Object.getPrototypeOf(rtmp) as Rtmp;
    rtmp.packetParse = () => {
      proto.packetParse.call(rtmp);
      if (!this.authorized && rtmp.inPackets.size > PRE_AUTH_CHUNK_STREAMS)
        throw new RtmpReject('malformed', `more than ${PRE_AUTH_CHUNK_STREAMS} chunk streams before publish`);
    };
    rtmp.packetAlloc = () => {
      const { header, capacity } = rtmp.parserPacket;
      if (!this.authorized && capacity < header.length) {
        // NMS allocates the declared length (+1 KiB) up front: check before it does.
        this.preAuthAllocated += header.length + 1024;
        if (header.length > PRE_AUTH_MESSAGE_CAP)
          throw new RtmpReject('message_too_large', `message of ${header.length} B before publish`);
        if (this.preAuthAllocated > PRE_AUTH_BUFFER_BUDGET)
          throw new RtmpReject('message_too_large', `${this.preAuthAllocated} B of buffers before publish`);
      }
      proto.packetAlloc.call(rtmp);
    };
  }

  /** Control messages checked, publish and play decided by the hooks, messages held during a decision. */
  private fenceMessages(rtmp: Rtmp): void {
    const proto = Object.getPrototypeOf(rtmp) as Rtmp;
    rtmp.controlHandler = () => {
      this.checkUnread();
      const { type, length } = rtmp.parserPacket.header;
      if (length < (CONTROL_MIN_BYTES[type] ?? 0))
        throw new RtmpReject('malformed', `control message type ${type} with ${length} B`);
      // A chunk size of 0 would stall the parser forever; the top bit is reserved (RTMP 5.4.1).
      if (
        type === 1 &&
        !(rtmp.parserPacket.payload.readUInt32BE(0) >= 1 && rtmp.parserPacket.payload[0]! < 0x80)
      )
        throw new RtmpReject('malformed', 'Set Chunk Size outside 1..2^31-1');
      proto.controlHandler.call(rtmp);
    };
    rtmp.packetHandler = () => {
      this.checkUnread();
      if (!this.held) return proto.packetHandler.call(rtmp);
      this.hold(rtmp.parserPacket);
    };
    rtmp.onPublish = (msg: { streamName?: unknown }) => this.publishRequested(msg);
    rtmp.onPlay = (msg: { streamName?: unknown }) => {
      const name = this.engage(msg);
      if (!this.hooks.onPlayRequest(this, this.app, name))
        throw new RtmpReject('play_refused', `play of '${name.slice(0, 64)}' refused`);
      // The origin's own pull: trusted like an accepted publisher (its media may queue while it lags).
      this.authorized = true;
      proto.onPlay.call(rtmp, msg);
    };
  }

  /** Before authorisation, a peer that lets NMS's answers pile up unread gets no more of them. */
  private checkUnread(): void {
    const queued = this.socket.writableLength;
    if (!this.authorized && queued > PRE_AUTH_UNREAD_OUTPUT)
      throw new RtmpReject('not_reading', `${queued} B of answers unread before publish`);
  }

  /** Runs NMS code for this connection; a throw closes this connection only. */
  private guard(run: () => void): void {
    try {
      run();
    } catch (err) {
      if (err instanceof RtmpReject) this.reject(err.reason, err.message);
      else this.reject('malformed', `parser threw: ${(err as Error)?.message ?? String(err)}`.slice(0, 200));
    }
  }

  /** Checks a publish/play command and marks the connection engaged; returns the stream name. */
  private engage(msg: { streamName?: unknown }): string {
    if (this.engaged) throw new RtmpReject('bad_command', 'a second publish or play on one connection');
    if (typeof msg?.streamName !== 'string')
      throw new RtmpReject('bad_command', 'publish or play without a name');
    this.engaged = true;
    return msg.streamName.split('?')[0] ?? '';
  }

  private hold(packet: RtmpPacket): void {
    const length = packet.header.length;
    this.heldBytes += length;
    if (this.heldBytes > PRE_AUTH_MESSAGE_CAP)
      throw new RtmpReject('message_too_large', `${this.heldBytes} B sent while the key was being checked`);
    // NMS reuses a chunk stream's packet and buffer for its next message: keep a copy.
    this.held?.push({
      ...packet,
      header: { ...packet.header },
      payload: Buffer.from(packet.payload.subarray(0, length)),
    });
  }

  private publishRequested(msg: { streamName?: unknown }): void {
    const rtmp = this.session.rtmp;
    const name = this.engage(msg);
    const streamId = rtmp.parserPacket.header.stream_id;
    this.held = [];
    this.socket.pause();
    this.hooks.onPublishRequest(this, this.app, name).then(
      (verdict) => this.guard(() => this.settle(verdict, msg, streamId)),
      (err: Error) => this.reject('malformed', `publish check failed: ${err.message}`),
    );
  }

  private settle(verdict: PublishVerdict, msg: { streamName?: unknown }, streamId: number): void {
    if (this.closed) return;
    const rtmp = this.session.rtmp;
    if (!verdict.admit) {
      // Tell the publisher why (ffmpeg prints "Server error: <description>"), then close.
      rtmp.sendStatusMessage(streamId, 'error', verdict.status, `publish refused: ${verdict.reason}`);
      this.closed = true;
      this.socket.end();
      setTimeout(() => this.socket.destroy(), REFUSAL_LINGER_MS).unref();
      return;
    }
    this.authorized = true;
    const held = this.held ?? [];
    this.held = undefined;
    const proto = Object.getPrototypeOf(rtmp) as typeof rtmp;
    const current = rtmp.parserPacket;
    rtmp.parserPacket = { ...current, header: { ...current.header, stream_id: streamId } };
    proto.onPublish.call(rtmp, { ...msg, streamName: verdict.path });
    // What the publisher sent before the answer, in order, as if it had come now.
    for (const packet of held) {
      rtmp.parserPacket = packet;
      proto.packetHandler.call(rtmp);
    }
    rtmp.parserPacket = current;
    this.socket.resume();
  }
}

/** node-media-server writes to the console; its lines go to our log at debug level instead. */
export function routeNmsLogs(log: Logger): void {
  const child = log.child({ component: 'node-media-server' });
  nmsLogger.level = 'error';
  nmsLogger.log = (message: string) => child.debug(message);
}
