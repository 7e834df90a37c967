/**
 * Shared by the fast-path tests (fast-http*.test.ts): a raw HTTP/1.1 client, a relay with the fast path
 * on, and FastHttp alone serving one complete object.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import type { ExecutionContext } from 'ava';
import { parseLivePath } from '../../common/names.ts';
import { CacheEntry } from '../../relay/cache-entry.ts';
import { FastHttp } from '../../relay/fast-http.ts';
import { ZeroCopy } from '../../relay/zero-copy.ts';
import { clusterWith, FakeUpstream, get, metric, startRelay } from './helpers.ts';

export interface Answer {
  status: number;
  headers: Map<string, string>;
  /** Header names as sent. */
  names: string[];
  body: Buffer;
}

/** A raw client: writes bytes as given and parses the responses that come back, in order. */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;
  readonly socket: Socket;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on('error', () => {});
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async more(deadline: number): Promise<void> {
    if (this.closed) throw new Error('connection closed');
    if (Date.now() > deadline) throw new Error('timed out waiting for a response');
    await new Promise<void>((r) => {
      this.waiters.push(r);
      setTimeout(r, 100);
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next response; `head` when it answers a HEAD request (no body follows). */
  async response(opts: { head?: boolean } = {}): Promise<Answer> {
    const deadline = Date.now() + 5000;
    while (this.buf.indexOf('\r\n\r\n') < 0) await this.more(deadline);
    const end = this.buf.indexOf('\r\n\r\n');
    const lines = this.buf.toString('latin1', 0, end).split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers = new Map<string, string>();
    const names: string[] = [];
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      names.push(line.slice(0, i));
      headers.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
    }
    let rest = end + 4;
    let body = Buffer.alloc(0);
    if (!opts.head && status !== 304) {
      if (headers.get('transfer-encoding') === 'chunked') {
        const parts: Buffer[] = [];
        for (;;) {
          while (this.buf.indexOf('\r\n', rest) < 0) await this.more(deadline);
          const nl = this.buf.indexOf('\r\n', rest);
          const size = Number.parseInt(this.buf.toString('latin1', rest, nl), 16);
          while (this.buf.length < nl + 2 + size + 2) await this.more(deadline);
          parts.push(this.buf.subarray(nl + 2, nl + 2 + size));
          rest = nl + 2 + size + 2;
          if (size === 0) break;
        }
        body = Buffer.concat(parts);
      } else {
        const length = Number(headers.get('content-length') ?? 0);
        while (this.buf.length < rest + length) await this.more(deadline);
        body = Buffer.from(this.buf.subarray(rest, rest + length));
        rest += length;
      }
    }
    this.buf = this.buf.subarray(rest);
    return { status, headers, names, body };
  }

  /** Resolves once the server closed the connection (or after 3 s: false). */
  async closedByServer(): Promise<boolean> {
    const deadline = Date.now() + 3000;
    while (!this.closed && Date.now() < deadline) await this.more(deadline).catch(() => {});
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

export async function setup(t: ExecutionContext) {
  const origin = await new FakeUpstream().start();
  const { relay, url, id } = await startRelay(clusterWith(origin.url), { fastPath: true });
  const port = Number(new URL(url).port);
  const clients: RawClient[] = [];
  const client = () => {
    const c = new RawClient(port);
    clients.push(c);
    return c;
  };
  t.teardown(async () => {
    for (const c of clients) c.close();
    await Promise.all([relay.close(), origin.close()]);
  });
  const body = randomBytes(20_000);
  origin.objects.set('demo/720p/1.m4s', body);
  // Each read of /metrics is a connection of its own, handed to Node (counted before it answers).
  let reads = 0;
  const handOffs = async () => {
    reads++;
    const text = (await get(`${url}/metrics`, { connection: 'close' })).body.toString();
    return metric(text, 'ringcast_relay_fast_path_handoffs_total') - reads;
  };
  return { origin, relay, url, id, port, body, client, handOffs };
}

export const req = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: relay\r\n${extra}\r\n`;

/** The zero-copy module; a test that needs it fails when scripts/setup.sh did not build it. */
export function zeroCopyFor(t: ExecutionContext): ZeroCopy {
  const { zeroCopy, error } = ZeroCopy.open();
  if (!zeroCopy) t.fail(error);
  return zeroCopy!;
}

/**
 * FastHttp alone with short timeouts, serving one complete object (`body`, or `size` bytes of 7s), kept
 * in a memfd region and sent with sendfile when `zeroCopy` is given.
 */
export async function fastAlone(
  t: ExecutionContext,
  size: number,
  zeroCopy?: ZeroCopy,
  body = Buffer.alloc(size, 7),
) {
  const entry = new CacheEntry('demo/720p/1.m4s', parseLivePath('/live/demo/720p/1.m4s'));
  entry.start(200, size);
  entry.push(body);
  entry.complete('0'.repeat(64), zeroCopy && ((chunks, n) => zeroCopy.join(chunks, n)));
  t.is(entry.zeroCopy !== undefined, zeroCopy !== undefined);
  const fast = new FastHttp({
    zeroCopy,
    route: () => ({ entry, result: 'HIT' }),
    context: () => ({ relayId: 'relay-test', playlistCacheControl: 'public, max-age=1' }),
    pin: () => {},
    unpin: () => {},
    served: () => {},
    handOff: (socket) => socket.destroy(),
    keepAliveMs: 200,
    stallMs: 1000,
  });
  // When the server side of each connection closed (ms after it was accepted), in accept order;
  // `events` says 'accepted' and 'closed' (with the index) as they happen.
  const closedAfter: (number | undefined)[] = [];
  const events = new EventEmitter();
  const server = createNetServer((socket) => {
    const i = closedAfter.push(undefined) - 1;
    const accepted = Date.now();
    socket.on('close', () => {
      closedAfter[i] = Date.now() - accepted;
      events.emit('closed', i);
    });
    fast.attach(socket);
    events.emit('accepted', i);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sockets: Socket[] = [];
  t.teardown(() => {
    for (const x of sockets) x.destroy();
    server.close();
  });
  const open = async () => {
    const socket = connect((server.address() as { port: number }).port, '127.0.0.1');
    socket.on('error', () => {});
    sockets.push(socket);
    const accepted = once(events, 'accepted');
    socket.write(req('/live/demo/720p/1.m4s'));
    await accepted;
    return socket;
  };
  /** Resolves when connection `i` has closed on the server side, or after `ms` (then still open). */
  const closed = (i: number, ms: number) =>
    new Promise<void>((resolve) => {
      if (closedAfter[i] !== undefined) return resolve();
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        events.off('closed', onClosed);
        resolve();
      }
      function onClosed(j: number): void {
        if (j === i) done();
      }
      events.on('closed', onClosed);
    });
  return { open, closedAfter, closed, port: (server.address() as { port: number }).port };
}
