/** The parts of node-media-server 4.4 (CommonJS, untyped) that the origin's RTMP ingest uses. */

declare module 'node-media-server/src/session/rtmp_session.js' {
  import type { Socket } from 'node:net';

  /** One RTMP connection (publisher or player); `run()` starts reading the socket. */
  export default class RtmpSession {
    constructor(socket: Socket);
    id: string;
    /** `address:port` of the peer. */
    ip: string;
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
