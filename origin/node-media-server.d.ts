/**
 * The parts of node-media-server 4.4.3 (CommonJS, untyped, private `src/` files) that the origin's RTMP
 * ingest uses; only origin/nms-adapter.ts imports them.
 */

declare module 'node-media-server/src/session/rtmp_session.js' {
  import type { Socket } from 'node:net';

  /** A chunk stream's message being read (NMS reuses one per chunk stream id). */
  export interface RtmpPacket {
    header: { fmt: number; cid: number; timestamp: number; length: number; type: number; stream_id: number };
    clock: number;
    payload: Buffer;
    capacity: number;
    bytes: number;
  }

  /** NMS's RTMP protocol state machine of one connection (protocol/rtmp.js). */
  export interface Rtmp {
    parserPacket: RtmpPacket;
    /** Chunk streams seen, by chunk stream id. */
    inPackets: Map<number, RtmpPacket>;
    packetParse(): void;
    /** From the connect command (any AMF0 value the peer sent). */
    streamApp: unknown;
    packetAlloc(): void;
    packetHandler(): void;
    controlHandler(): void;
    onPublish(msg: unknown): void;
    onPlay(msg: unknown): void;
    sendStatusMessage(sid: number, level: string, code: string, description: string): void;
  }

  /** One RTMP connection (publisher or player); `run()` starts reading the socket. */
  export default class RtmpSession {
    constructor(socket: Socket);
    id: string;
    /** `address:port` of the peer. */
    ip: string;
    rtmp: Rtmp;
    isPublisher: boolean;
    streamApp: string;
    streamName: string;
    streamPath: string;
    socket: Socket;
    /** From the publisher's onMetaData (0 until it arrives, or if it never does). */
    videoWidth: number;
    videoHeight: number;
    videoFramerate: number;
    videoCodec: number;
    audioCodec: number;
    /** The socket's 'data' and 'close' handlers (instance properties, read by `run()`). */
    onData: (data: Buffer) => void;
    onClose: () => void;
    run(): void;
    close(): void;
  }
}

declare module 'node-media-server/src/core/context.js' {
  import type { EventEmitter } from 'node:events';

  /** node-media-server's process-wide state: sessions, broadcasts and its event bus. */
  const Context: {
    config: Record<string, unknown>;
    sessions: Map<string, unknown>;
    broadcasts: Map<string, unknown>;
    /** Emits prePublish, postPublish, donePublish, prePlay, postPlay, donePlay with the session. */
    eventEmitter: EventEmitter;
  };
  export default Context;
}

declare module 'node-media-server/src/core/logger.js' {
  /** node-media-server's console logger (a process-wide singleton). */
  const logger: {
    level: string;
    log(message: string, level?: string): void;
  };
  export default logger;
}
