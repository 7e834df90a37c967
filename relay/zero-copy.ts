import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

/** The native module (native/zero-copy.c), as built by scripts/setup.sh. */
interface ZeroCopyModule {
  alloc(length: number): [ArrayBuffer, number];
  send(socketFd: number, head: Buffer, fd: number, length: number): number;
  queued(socketFd: number): number;
}

/** Bodies at least this large are kept in memfd regions; smaller ones go out with their head in one write. */
export const ZERO_COPY_MIN_BYTES = 64 * 1024;

const ADDON_PATH = new URL('../native/build/Release/zero_copy.node', import.meta.url).pathname;

let loaded: { module?: ZeroCopyModule; error?: string } | undefined;

/** The native module, or why it is not there (not built, not Linux). Loaded once. */
export function zeroCopyModule(): { module?: ZeroCopyModule; error?: string } {
  if (!loaded) {
    try {
      loaded = { module: createRequire(import.meta.url)(ADDON_PATH) as ZeroCopyModule };
    } catch (err) {
      loaded = { error: `${ADDON_PATH} did not load (${(err as Error).message.split('\n')[0]})` };
    }
  }
  return loaded;
}

/** A body in a memfd: `bytes` maps the same pages `fd` names, so sendfile sends them without a copy. */
export interface ZeroCopyBody {
  bytes: Buffer;
  fd: number;
}

/**
 * Zero-copy bodies for one relay: complete segments are copied once into a memfd region, then every
 * response sends them with sendfile(2) instead of copying them into the socket again (docs/relay.md,
 * Zero-copy segments). A region is unmapped and its fd closed when its Buffer is collected, so a
 * viewer still being served keeps it alive like any Buffer.
 */
export class ZeroCopy {
  /** Bytes (heads and bodies) the kernel took through `send`: what zero-copy actually carried. */
  sent = 0;

  private constructor(private readonly native: ZeroCopyModule) {}

  /** A ZeroCopy, or undefined with the reason when the module is missing. */
  static open(): { zeroCopy?: ZeroCopy; error?: string } {
    const { module, error } = zeroCopyModule();
    return module ? { zeroCopy: new ZeroCopy(module) } : { error };
  }

  /** `chunks` joined into a memfd region (`size` bytes in all). */
  join(chunks: readonly Buffer[], size: number): ZeroCopyBody {
    const [buffer, fd] = this.native.alloc(size);
    const bytes = Buffer.from(buffer);
    let at = 0;
    for (const c of chunks) at += c.copy(bytes, at);
    return { bytes, fd };
  }

  /**
   * Sends `head` then the body on `socket` from the kernel side. Returns how many bytes of head and
   * body together the kernel took (the caller writes the rest through the socket), or undefined when it
   * could not try (no descriptor, an error: the caller writes everything and Node reports the error).
   */
  send(socket: Socket, head: Buffer, body: ZeroCopyBody): number | undefined {
    const fd = socketFd(socket);
    if (fd === undefined) return undefined;
    const n = this.native.send(fd, head, body.fd, body.bytes.length);
    if (n < 0) return undefined;
    this.sent += n;
    return n;
  }

  /** Bytes the kernel still holds for `socket` (sent, not yet acknowledged, or not sent yet). */
  queued(socket: Socket): number {
    const fd = socketFd(socket);
    if (fd === undefined) return 0;
    return Math.max(0, this.native.queued(fd));
  }
}

/** The descriptor of a connected TCP socket (Node keeps it on the handle). */
function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
