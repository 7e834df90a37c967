import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { RingcastError, toRingcastError } from '../common/errors.ts';
import { ERROR_HEADER } from '../common/types.ts';
import type { CacheEntry } from './cache-entry.ts';
import { ageSeconds, type CacheResult, etagMatches, isPlaylist, parseRange } from './responder.ts';
import { agentSession } from './viewer-tracker.ts';
import type { ZeroCopy } from './zero-copy.ts';

/** A `/live/` GET or HEAD the fast path parsed. */
export interface FastRequest {
  head: boolean;
  /** `Range` and `If-None-Match`, when sent: the answer waits for the whole object. */
  range?: string;
  ifNoneMatch?: string;
  pathname: string;
  query: string;
  /** The `X-Ringcast-Hop` value, if sent: the route checks it against the cluster's token. */
  hop: string | undefined;
  onlyIfCached: boolean;
  /**
   * The viewer session (computed only when needed). Valid only while the request is routed: on the fast
   * path it reads the connection's current request.
   */
  session(): string;
  /** The client's address (computed only when needed). */
  address(): string;
}

/** What to answer: an entry to serve, an error, or undefined to hand the connection to Node's http. */
export type FastRoute = { entry: CacheEntry; result: CacheResult } | RingcastError | undefined;

export interface FastHttpDeps {
  route(req: FastRequest): FastRoute;
  /** Response headers as `[name, value, …]` for an entry: complete (with ETag) or streaming. */
  headers(entry: CacheEntry, result: CacheResult): string[];
  /** Headers every error carries (relay id, CORS). */
  errorHeaders(): string[];
  pin(entry: CacheEntry): void;
  unpin(entry: CacheEntry): void;
  served(bytes: number): void;
  /** Gives a connection to Node's http server (already-read bytes are unshifted first). */
  handOff(socket: Socket): void;
  keepAliveMs: number;
  /** A response that makes no write progress for this long is cut. */
  stallMs: number;
  /** sendfile for bodies kept in memfd regions (zero-copy.ts); absent: plain writes. */
  zeroCopy?: ZeroCopy;
}

/** The bytes of one complete entry's HIT response for one second (Date, Age). */
interface FastHead {
  sec: number;
  age: number;
  head: Buffer;
  /** Head and body in one Buffer, for small bodies (one write). */
  full: Buffer | undefined;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const BARE_LF = Buffer.from('\n\n');
const MAX_HEAD = 8192;
/** A head still incomplete after this long goes to Node's http (and its headersTimeout). */
const HEAD_WAIT_MS = 5000;
const SMALL_BODY = 16 * 1024;
const GET_PREFIX = Buffer.from('GET /live/');
const HTTP11_CRLF = Buffer.from(' HTTP/1.1\r\n');
const HEAD_PREFIX = Buffer.from('HEAD /live/');
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Characters Node's parser refuses in a header value. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const fastHeads = new WeakMap<CacheEntry, FastHead>();

/**
 * The relay's hot path on raw sockets: simple keep-alive HTTP/1.1 GET and HEAD requests for `/live/`
 * objects are parsed and answered here with prebuilt bytes (one write per cache hit), so the hit
 * path costs a fraction of Node's http machinery; ranges and `If-None-Match` are answered here too,
 * as responder.ts does. Anything else (other paths and methods, bodies, `Connection: close`,
 * HTTP/1.0, odd syntax) hands the connection, with the bytes read so far, to the Node http server
 * for the rest of its life.
 */
export class FastHttp {
  private readonly connections = new Set<FastConnection>();
  private dateSec = 0;
  private dateText = '';

  constructor(readonly deps: FastHttpDeps) {}

  attach(socket: Socket): void {
    this.connections.add(new FastConnection(socket, this));
  }

  forget(c: FastConnection): void {
    this.connections.delete(c);
  }

  /** Ends connections with no response in flight; with `force`, all of them. */
  close(force: boolean): void {
    for (const c of this.connections) if (force || !c.busy) c.socket.destroy();
  }

  get size(): number {
    return this.connections.size;
  }

  date(sec: number): string {
    if (sec !== this.dateSec) {
      this.dateSec = sec;
      this.dateText = new Date(sec * 1000).toUTCString();
    }
    return this.dateText;
  }

  headBytes(status: number, lines: readonly string[], extra = ''): string {
    let s = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
    for (let i = 0; i < lines.length; i += 2) s += `${lines[i]}: ${lines[i + 1]}\r\n`;
    const now = Date.now();
    return `${s}${extra}date: ${this.date(Math.floor(now / 1000))}\r\nconnection: keep-alive\r\nkeep-alive: timeout=${Math.round(this.deps.keepAliveMs / 1000)}\r\n\r\n`;
  }

  /** The HIT bytes of a complete entry, rebuilt when the second (Date) or the Age changes. */
  hitHead(entry: CacheEntry, now: number): FastHead {
    const sec = Math.floor(now / 1000);
    const playlist = isPlaylist(entry);
    const age = playlist ? ageSeconds(entry, now) : 0;
    let f = fastHeads.get(entry);
    if (f && f.sec === sec && f.age === age) return f;
    const lines = this.deps.headers(entry, 'HIT');
    const head = Buffer.from(this.headBytes(200, lines, playlist ? `age: ${age}\r\n` : ''), 'latin1');
    const body = entry.body!;
    f = {
      sec,
      age,
      head,
      full: body.length <= SMALL_BODY ? Buffer.concat([head, body], head.length + body.length) : undefined,
    };
    fastHeads.set(entry, f);
    return f;
  }

  /** A JSON error response; for a HEAD request the head alone (its body would desync the connection). */
  errorBytes(err: unknown, head: boolean): Buffer {
    const e = toRingcastError(err);
    const text = JSON.stringify(e.toJSON());
    const lines = [
      ...this.deps.errorHeaders(),
      ERROR_HEADER,
      e.code,
      'content-type',
      'application/json; charset=utf-8',
      'content-length',
      String(Buffer.byteLength(text)),
      'cache-control',
      'no-store',
    ];
    return Buffer.from(this.headBytes(e.status, lines) + (head ? '' : text));
  }
}

/** One viewer connection while the fast path owns it. Requests are answered one at a time, in order. */
class FastConnection {
  /** A response is being written (following a fill). */
  busy = false;
  private pending: Buffer | undefined;
  private pendingSince = 0;
  private gone = false;
  private ended = false;
  private cancel: (() => void) | undefined;
  private stalled = 0;
  private lastStallAt = 0;
  /**
   * Bytes the kernel held for this connection at the last look, after a sendfile (see onTimeout); 1
   * right after one, until looked at.
   */
  private kernelQueued = 0;
  private ua: string | undefined;
  private uaSession = '';
  /** The User-Agent of the request being routed (see session). */
  private requestUa = '';
  /** The last header block parsed on this connection, and what it said. */
  private headerMemo: { bytes: Buffer; fields: HeaderFields } | undefined;
  /** The last request target on this connection, as bytes and as strings. */
  private target: { bytes: Buffer; pathname: string; query: string } | undefined;
  /** The current request's session: address and User-Agent, rebuilt only when the agent changes. */
  private readonly session = (): string => {
    if (this.ua !== this.requestUa) {
      this.ua = this.requestUa;
      this.uaSession = agentSession(this.address(), this.requestUa);
    }
    return this.uaSession;
  };
  private remote: string | undefined;
  /** The client's address, read once per connection. */
  private readonly address = (): string => {
    this.remote ??= this.socket.remoteAddress ?? '';
    return this.remote;
  };

  constructor(
    readonly socket: Socket,
    private readonly fast: FastHttp,
  ) {
    socket.setNoDelay(true);
    socket.setTimeout(fast.deps.keepAliveMs);
    socket.on('data', this.onData);
    socket.on('timeout', this.onTimeout);
    socket.on('error', this.onError);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.pending) this.pending = Buffer.concat([this.pending, chunk]);
    else {
      this.pending = chunk;
      this.pendingSince = Date.now();
    }
    if (this.busy) {
      // Pipelined requests wait for the current response; stop reading if they pile up.
      if (this.pending.length > MAX_HEAD) this.socket.pause();
      return;
    }
    this.drive();
  };

  private readonly onTimeout = (): void => {
    const { socket } = this;
    const { keepAliveMs, stallMs, zeroCopy } = this.fast.deps;
    // Bytes sendfile left in the kernel are a response in flight that Node does not see.
    const queued = this.kernelQueued > 0 && zeroCopy ? zeroCopy.queued(socket) : 0;
    const kernelProgress = queued < this.kernelQueued;
    const drained = this.kernelQueued > 0 && queued === 0;
    this.kernelQueued = queued;
    if (drained && socket.writableLength === 0) {
      // The response left just now: the idle keep-alive time counts from here, not from the request.
      socket.setTimeout(keepAliveMs);
      return;
    }
    if (socket.writableLength > 0 || queued > 0) {
      // A response in flight made no write progress for keepAliveMs (Node's timer counts progress of
      // its writes; the kernel's queue shrinking is progress too). Only consecutive timeouts add up.
      const now = Date.now();
      if (now - this.lastStallAt > keepAliveMs * 1.5 || kernelProgress) this.stalled = 0;
      this.lastStallAt = now;
      if (++this.stalled * keepAliveMs >= stallMs) {
        socket.destroy();
        return;
      }
    } else if (!this.busy) {
      // Idle keep-alive connection (or a head that never completed).
      socket.destroy();
      return;
    }
    // Waiting on upstream (the filler's own timeouts end the wait), or a slow reader within stallMs.
    socket.setTimeout(keepAliveMs);
  };

  private readonly onError = (): void => {
    this.socket.destroy();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    if (!this.busy) this.drive();
  };

  private readonly onClose = (): void => {
    this.gone = true;
    this.cancel?.();
    this.cancel = undefined;
    this.fast.forget(this);
  };

  /** Answers the complete requests in `pending`, in order, until one must wait or go to Node. */
  private drive(): void {
    const { socket } = this;
    while (!this.busy && !this.gone && !socket.destroyed && this.pending) {
      if (socket.writableNeedDrain) {
        socket.pause();
        socket.once('drain', () => {
          socket.resume();
          this.drive();
        });
        return;
      }
      const buf = this.pending;
      if (!couldBeFast(buf)) {
        this.handOff();
        return;
      }
      const end = buf.indexOf(HEAD_END);
      if (end < 0) {
        if (buf.length > MAX_HEAD || buf.includes(BARE_LF) || Date.now() - this.pendingSince > HEAD_WAIT_MS) {
          this.handOff();
          return;
        }
        break;
      }
      // A head over the limit is Node's to refuse (431), however it arrived: both paths answer alike.
      if (end + 4 > MAX_HEAD) {
        this.handOff();
        return;
      }
      const req = this.parse(buf, end);
      const routed = req && this.fast.deps.route(req);
      if (!req || routed === undefined) {
        this.handOff();
        return;
      }
      if (end + 4 < buf.length) {
        this.pending = buf.subarray(end + 4);
        this.pendingSince = Date.now();
      } else this.pending = undefined;
      if (socket.isPaused() && !socket.writableNeedDrain) socket.resume();
      this.respond(req, routed);
    }
    if (this.ended && !this.busy && !this.gone) socket.end();
  }

  /**
   * A request the fast path can answer, or undefined (anything unusual goes to Node). `buf` starts with
   * `GET /live/` or `HEAD /live/` (couldBeFast) and its head ends at `end`. The header block is parsed
   * once per distinct block on a connection: a client's requests usually repeat it byte for byte, so
   * the next one costs a compare; the target's strings are reused the same way.
   */
  private parse(buf: Buffer, end: number): FastRequest | undefined {
    const head = buf[0] === 0x48;
    const targetStart = head ? 5 : 4;
    const sp = buf.indexOf(0x20, targetStart);
    // The request line is `<method> <target> HTTP/1.1` and ends at the first CRLF.
    if (
      sp < 0 ||
      sp + HTTP11_CRLF.length > end + 2 ||
      buf.compare(HTTP11_CRLF, 0, HTTP11_CRLF.length, sp, sp + HTTP11_CRLF.length) !== 0
    )
      return undefined;
    const headers = this.headers(buf, sp + HTTP11_CRLF.length, end);
    if (!headers) return undefined;
    let target = this.target;
    if (
      !target ||
      target.bytes.length !== sp - targetStart ||
      buf.compare(target.bytes, 0, target.bytes.length, targetStart, sp) !== 0
    ) {
      // Only visible ASCII in the target; anything else is Node's to refuse (400).
      for (let i = targetStart; i < sp; i++) if (buf[i]! < 0x21 || buf[i]! > 0x7e) return undefined;
      const text = buf.toString('latin1', targetStart, sp);
      const q = text.indexOf('?');
      target = {
        bytes: Buffer.from(buf.subarray(targetStart, sp)),
        pathname: q < 0 ? text : text.slice(0, q),
        query: q < 0 ? '' : text.slice(q + 1),
      };
      this.target = target;
    }
    this.requestUa = headers.ua;
    return {
      head,
      range: headers.range,
      ifNoneMatch: headers.ifNoneMatch,
      pathname: target.pathname,
      query: target.query,
      hop: headers.hop,
      onlyIfCached: headers.onlyIfCached,
      // One function per connection, not a closure per request: the route reads it at once.
      session: this.session,
      address: this.address,
    };
  }

  /** The header block `buf[start, end)`, parsed, or reused when it repeats the previous one. */
  private headers(buf: Buffer, start: number, end: number): HeaderFields | undefined {
    const memo = this.headerMemo;
    if (
      memo &&
      memo.bytes.length === end - start &&
      buf.compare(memo.bytes, 0, memo.bytes.length, start, end) === 0
    )
      return memo.fields;
    // An empty block (no Host) is refused below like any other.
    const fields = parseHeaders(start < end ? buf.toString('latin1', start, end) : '');
    if (fields) this.headerMemo = { bytes: Buffer.from(buf.subarray(start, end)), fields };
    return fields;
  }

  private respond(
    req: FastRequest,
    routed: { entry: CacheEntry; result: CacheResult } | RingcastError,
  ): void {
    if (routed instanceof RingcastError) {
      this.socket.write(this.fast.errorBytes(routed, req.head));
      return;
    }
    const { entry, result } = routed;
    if (entry.state === 'complete') this.writeComplete(req, entry, result);
    else if (entry.state === 'failed') this.socket.write(this.fast.errorBytes(entry.error, req.head));
    else this.follow(req, entry, result);
  }

  private writeComplete(req: FastRequest, entry: CacheEntry, result: CacheResult): void {
    const { socket, fast } = this;
    if (entry.status !== 200) {
      socket.write(
        fast.errorBytes(new RingcastError('RC_NOT_FOUND', `upstream has no ${entry.path.relPath}`), req.head),
      );
      return;
    }
    const body = entry.body!;
    if (req.range !== undefined || req.ifNoneMatch !== undefined) {
      this.writePartial(req, entry, result);
      return;
    }
    let head: Buffer;
    let full: Buffer | undefined;
    if (result === 'HIT') ({ head, full } = fast.hitHead(entry, Date.now()));
    else {
      head = Buffer.from(
        fast.headBytes(
          200,
          fast.deps.headers(entry, result),
          isPlaylist(entry) ? `age: ${ageSeconds(entry)}\r\n` : '',
        ),
        'latin1',
      );
    }
    if (req.head) socket.write(head);
    else {
      if (full) socket.write(full);
      else if (!this.sendZeroCopy(head, entry)) {
        socket.cork();
        socket.write(head);
        socket.write(body);
        socket.uncork();
      }
      fast.deps.served(body.length);
    }
  }

  /**
   * Head and body of a memfd-backed entry through sendfile, when nothing is queued before them; the
   * kernel's buffer takes what it can and the rest goes through the socket. False: not sent this way.
   */
  private sendZeroCopy(head: Buffer, entry: CacheEntry): boolean {
    const { socket } = this;
    const { zeroCopy } = this.fast.deps;
    const region = entry.zeroCopy;
    if (!zeroCopy || !region || socket.writableLength > 0) return false;
    const sent = zeroCopy.send(socket, head, region);
    if (sent === undefined) return false;
    this.kernelQueued = 1;
    const body = region.bytes;
    if (sent < head.length + body.length) {
      socket.cork();
      if (sent < head.length) {
        socket.write(head.subarray(sent));
        socket.write(body);
      } else socket.write(body.subarray(sent - head.length));
      socket.uncork();
    }
    return true;
  }

  /** 304 for a matching `If-None-Match`, 206 or 416 for a single `Range`, else the whole object (as responder.ts). */
  private writePartial(req: FastRequest, entry: CacheEntry, result: CacheResult): void {
    const { socket, fast } = this;
    const body = entry.body!;
    const lines = fast.deps.headers(entry, result);
    const without = (...names: string[]) => {
      const out: string[] = [];
      for (let i = 0; i < lines.length; i += 2)
        if (!names.includes(lines[i]!)) out.push(lines[i]!, lines[i + 1]!);
      return out;
    };
    const etag = lines[lines.indexOf('etag') + 1] ?? '';
    if (req.ifNoneMatch !== undefined && etagMatches(req.ifNoneMatch, etag)) {
      socket.write(fast.headBytes(304, without('content-length', 'content-type')), 'latin1');
      return;
    }
    const r = req.range === undefined ? undefined : parseRange(req.range, body.length);
    if (r === 'unsatisfiable') {
      const extra = `content-length: 0\r\ncontent-range: bytes */${body.length}\r\n`;
      socket.write(fast.headBytes(416, without('content-length'), extra), 'latin1');
      return;
    }
    let status = 200;
    let extra = '';
    let slice = body;
    if (r) {
      const [start, end] = r;
      status = 206;
      slice = body.subarray(start, end + 1);
      extra = `content-length: ${slice.length}\r\ncontent-range: bytes ${start}-${end}/${body.length}\r\n`;
    } else {
      extra = `content-length: ${body.length}\r\n`;
      if (isPlaylist(entry)) extra += `age: ${ageSeconds(entry)}\r\n`;
    }
    socket.cork();
    socket.write(fast.headBytes(status, without('content-length'), extra), 'latin1');
    if (!req.head) {
      socket.write(slice);
      fast.deps.served(slice.length);
    }
    socket.uncork();
  }

  /** Cut-through: the head once status and length are known, then bytes as they arrive. */
  private follow(req: FastRequest, entry: CacheEntry, result: CacheResult): void {
    const { socket, fast } = this;
    this.busy = true;
    fast.deps.pin(entry);
    let started = false;
    let chunked = false;
    const write = (chunk: Buffer) => {
      if (chunk.length === 0) return;
      if (chunked) {
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`);
        socket.write(chunk);
        socket.write('\r\n');
        socket.uncork();
      } else socket.write(chunk);
    };
    const finish = () => {
      this.cancel?.();
      this.cancel = undefined;
      this.busy = false;
      // Not from inside the entry's listener loop: the next request may follow the same entry.
      process.nextTick(() => this.drive());
    };
    // Range and conditional requests need the ETag and length: they wait for the whole object.
    const whole = req.range !== undefined || req.ifNoneMatch !== undefined;
    const begin = () => {
      if (started || whole || entry.status !== 200) return;
      started = true;
      const lines = fast.deps.headers(entry, result);
      chunked = entry.contentLength === undefined && !req.head;
      const extra =
        (isPlaylist(entry) ? 'age: 0\r\n' : '') + (chunked ? 'transfer-encoding: chunked\r\n' : '');
      socket.write(fast.headBytes(200, lines, extra), 'latin1');
      if (req.head) {
        finish();
        return;
      }
      for (const chunk of entry.received()) write(chunk);
    };
    const unsubscribe = entry.subscribe({
      onStart: begin,
      onData: (chunk) => {
        if (started) write(chunk);
      },
      onEnd: () => {
        if (!started) this.writeComplete(req, entry, result);
        else {
          if (chunked) socket.write('0\r\n\r\n');
          fast.deps.served(entry.size);
        }
        finish();
      },
      onError: (err) => {
        // Started: a short body must never pass for a whole one.
        if (started) socket.destroy();
        else socket.write(fast.errorBytes(err, req.head));
        finish();
      },
    });
    this.cancel = () => {
      unsubscribe();
      fast.deps.unpin(entry);
    };
    if (entry.state === 'streaming') begin();
  }

  /** Gives the connection, with what it sent that is not answered yet, to Node's http server. */
  private handOff(): void {
    const { socket } = this;
    this.gone = true;
    socket.removeListener('data', this.onData);
    socket.removeListener('timeout', this.onTimeout);
    socket.removeListener('error', this.onError);
    socket.removeListener('end', this.onEnd);
    socket.removeListener('close', this.onClose);
    socket.setTimeout(0);
    this.fast.forget(this);
    if (this.ended) {
      // The client already half-closed: Node's parser would never see the end. Rare (raw clients only).
      socket.destroy();
      return;
    }
    socket.pause();
    if (this.pending) socket.unshift(this.pending);
    this.pending = undefined;
    this.fast.deps.handOff(socket);
    socket.resume();
  }
}

/** True while `buf` may still be the start of `GET /live/…` or `HEAD /live/…`. */
function couldBeFast(buf: Buffer): boolean {
  const prefix = buf[0] === 0x48 ? HEAD_PREFIX : GET_PREFIX;
  const n = Math.min(prefix.length, buf.length);
  return buf.compare(prefix, 0, n, 0, n) === 0;
}

/** What the fast path reads from a header block. */
interface HeaderFields {
  hop: string | undefined;
  onlyIfCached: boolean;
  ua: string;
  range?: string;
  ifNoneMatch?: string;
}

/** The header lines of a head (CRLF-separated, no request line); undefined for anything unusual. */
function parseHeaders(block: string): HeaderFields | undefined {
  let host = false;
  const fields: HeaderFields = {
    hop: undefined,
    onlyIfCached: false,
    ua: '',
    range: undefined,
    ifNoneMatch: undefined,
  };
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).toLowerCase();
    if (!TOKEN.test(name) || line.includes('\n') || line.includes('\r')) return undefined;
    const value = line.slice(colon + 1).trim();
    if (CONTROL.test(value)) return undefined;
    switch (name) {
      case 'host':
        host = true;
        break;
      case 'user-agent':
        fields.ua = value;
        break;
      case 'cache-control':
        fields.onlyIfCached = value.includes('only-if-cached');
        break;
      case 'x-ringcast-hop':
        // A repeated hop header is not a ring member's (Node's path sees it joined): no token.
        fields.hop = fields.hop === undefined ? value : '';
        break;
      case 'connection':
        if (!/^keep-alive$/i.test(value)) return undefined;
        break;
      case 'range':
        if (fields.range !== undefined) return undefined;
        fields.range = value;
        break;
      case 'if-none-match':
        if (fields.ifNoneMatch !== undefined) return undefined;
        fields.ifNoneMatch = value;
        break;
      case 'content-length':
      case 'transfer-encoding':
      case 'expect':
      case 'upgrade':
        return undefined;
    }
  }
  return host ? fields : undefined;
}
