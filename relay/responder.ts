import { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { RingcastError, toRingcastError } from '../common/errors.ts';
import { CORS_HEADERS, IMMUTABLE, liveContentType } from '../common/hls-http.ts';
import { sendError } from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import { CACHE_HEADER, ERROR_HEADER, RELAY_HEADER } from '../common/types.ts';
import type { CacheEntry, EntryHeaders } from './cache-entry.ts';
import type { RelayMetrics } from './relay-metrics.ts';
import type { SegmentCache } from './segment-cache.ts';

export type CacheResult = 'HIT' | 'MISS' | 'COALESCED';

export interface ResponderDeps {
  relayId(): string;
  cache: SegmentCache;
  metrics: RelayMetrics;
  log: Logger;
  /** Cache-Control of playlists (short: under half a target duration). */
  playlistCacheControl: string;
}

/**
 * Writes cache entries to viewers: complete ones from one Buffer with headers built once per
 * object (ETag, 304, single Range → 206), filling ones cut-through as bytes arrive. A viewer whose
 * response started when the fill fails gets its connection destroyed, never a short 200.
 */
export class Responder {
  constructor(private readonly deps: ResponderDeps) {}

  serve(req: IncomingMessage, res: ServerResponse, entry: CacheEntry, result: CacheResult): void {
    // A complete entry is one Buffer: eviction only drops the cache's reference, so a hit needs no pin
    // (and no per-request close listener).
    if (entry.state === 'complete') {
      this.serveComplete(req, res, entry, result);
      return;
    }
    const { cache } = this.deps;
    cache.pin(entry);
    res.once('close', () => cache.unpin(entry));
    if (entry.state === 'failed') this.fail(res, entry.error);
    else this.follow(req, res, entry, result);
  }

  private serveComplete(
    req: IncomingMessage,
    res: ServerResponse,
    entry: CacheEntry,
    result: CacheResult,
  ): void {
    if (entry.status !== 200) {
      this.fail(res, new RingcastError('RC_NOT_FOUND', `upstream has no ${entry.path.relPath}`));
      return;
    }
    entry.headers ??= this.completeHeaders(entry);
    const inm = req.headers['if-none-match'];
    const range = req.headers.range;
    if (inm === undefined && range === undefined) {
      const raw = entry.headers.raw[result];
      // Playlists (blocking reloads included) are cached briefly: say how long (RFC 9111 Age).
      res.writeHead(200, isPlaylist(entry) ? [...raw, 'age', ageOf(entry)] : raw);
      this.end(req, res, entry.body!);
      return;
    }
    const headers = entry.headers[result];
    if (inm !== undefined && etagMatches(inm, entry.headers.HIT.etag as string)) {
      const { 'content-length': _l, 'content-type': _t, ...rest } = headers;
      res.writeHead(304, rest);
      res.end();
      return;
    }
    const body = entry.body!;
    if (range !== undefined) {
      const r = parseRange(range, body.length);
      if (r === 'unsatisfiable') {
        res.writeHead(416, { ...headers, 'content-length': 0, 'content-range': `bytes */${body.length}` });
        res.end();
        return;
      }
      if (r) {
        const [start, end] = r;
        res.writeHead(206, {
          ...headers,
          'content-length': end - start + 1,
          'content-range': `bytes ${start}-${end}/${body.length}`,
        });
        this.end(req, res, body.subarray(start, end + 1));
        return;
      }
    }
    if (isPlaylist(entry)) res.setHeader('age', ageOf(entry));
    res.writeHead(200, headers);
    this.end(req, res, body);
  }

  private end(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    this.deps.metrics.served(body.length);
    res.end(body);
  }

  /** Follows a filling entry: the bytes so far, then the rest as they arrive. */
  private follow(req: IncomingMessage, res: ServerResponse, entry: CacheEntry, result: CacheResult): void {
    // Conditional and range requests wait for the whole object: they need its ETag and length.
    const whole = req.headers.range !== undefined || req.headers['if-none-match'] !== undefined;
    const head = req.method === 'HEAD';
    let started = false;
    const begin = () => {
      if (whole || entry.status !== 200) return;
      started = true;
      res.writeHead(200, this.streamingHeaders(entry, result));
      if (head) res.end();
      else for (const chunk of entry.received()) res.write(chunk);
    };
    const unsubscribe = entry.subscribe({
      onStart: begin,
      onData: (chunk) => {
        if (started && !head) res.write(chunk);
      },
      onEnd: () => {
        if (!started) this.serveComplete(req, res, entry, result);
        else if (!head) {
          this.deps.metrics.served(entry.size);
          res.end();
        }
      },
      onError: (err) => {
        if (started) res.destroy();
        else this.fail(res, err);
      },
    });
    res.once('close', unsubscribe);
    if (entry.state === 'streaming') begin();
  }

  /** An error body a browser can read, naming this relay; the filler already logged the cause. */
  fail(res: ServerResponse, err: unknown): void {
    sendRelayError(res, err, this.deps.relayId());
  }

  /**
   * Headers as `[name, value, …]` for the raw-socket fast path (fast-http.ts), without Age: complete
   * entries get the prebuilt list (with ETag and length), filling ones the streaming set.
   */
  rawHeaders(entry: CacheEntry, result: CacheResult): string[] {
    if (entry.state === 'complete') {
      entry.headers ??= this.completeHeaders(entry);
      return entry.headers.raw[result];
    }
    return flat(this.fillingHeaders(entry, result));
  }

  private streamingHeaders(entry: CacheEntry, result: CacheResult): OutgoingHttpHeaders {
    const headers = this.fillingHeaders(entry, result);
    if (isPlaylist(entry)) headers.age = '0';
    return headers;
  }

  /** Headers of an entry still filling: no ETag yet, the length when upstream declared one. */
  private fillingHeaders(entry: CacheEntry, result: CacheResult): OutgoingHttpHeaders {
    const headers = this.baseHeaders(entry, result);
    if (entry.contentLength !== undefined) headers['content-length'] = entry.contentLength;
    return headers;
  }

  private completeHeaders(entry: CacheEntry): EntryHeaders {
    const make = (result: CacheResult): OutgoingHttpHeaders => ({
      ...this.baseHeaders(entry, result),
      'content-length': entry.size,
      etag: `"${entry.sha256!.slice(0, 32)}"`,
    });
    const HIT = make('HIT');
    const MISS = make('MISS');
    const COALESCED = make('COALESCED');
    return { HIT, MISS, COALESCED, raw: { HIT: flat(HIT), MISS: flat(MISS), COALESCED: flat(COALESCED) } };
  }

  private baseHeaders(entry: CacheEntry, result: CacheResult): OutgoingHttpHeaders {
    const { kind, file } = entry.path;
    return {
      'content-type': liveContentType(file),
      'cache-control': kind === 'segment' || kind === 'init' ? IMMUTABLE : this.deps.playlistCacheControl,
      'accept-ranges': 'bytes',
      ...CORS_HEADERS,
      [RELAY_HEADER]: this.deps.relayId(),
      [CACHE_HEADER]: result,
    };
  }
}

function flat(headers: OutgoingHttpHeaders): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) out.push(name, String(value));
  return out;
}

/** Playlists (media and master) are cached briefly and carry `Age`; everything else is immutable. */
export const isPlaylist = (entry: CacheEntry) =>
  entry.path.kind === 'playlist' || entry.path.kind === 'master';
/** Whole seconds since a cached entry completed. */
export const ageSeconds = (entry: CacheEntry, now = Date.now()) =>
  Math.floor((now - entry.completedAt) / 1000);
const ageOf = (entry: CacheEntry) => String(ageSeconds(entry));

/** True when an If-None-Match value names `etag` (weak or strong) or is `*`. */
export function etagMatches(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/** One `bytes=` range as [start, end] inclusive; undefined to ignore (multi or malformed). */
export function parseRange(header: string, size: number): [number, number] | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    if (m[2] !== '' && Number(m[2]) < start) return undefined;
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size) return 'unsatisfiable';
  return [start, end];
}

/** `{"error":{…}}` with the relay and CORS headers, so players and operators see who answered. */
export function sendRelayError(res: ServerResponse, err: unknown, relayId: string): void {
  if (!res.headersSent) {
    res.setHeader(RELAY_HEADER, relayId);
    res.setHeader(ERROR_HEADER, toRingcastError(err).code);
    for (const [name, value] of Object.entries(CORS_HEADERS)) res.setHeader(name, value);
  }
  sendError(res, err);
}

/** How long a refused client has to read the error before its socket is destroyed. */
const CLOSE_GRACE_MS = 2000;

/** What Node's parser reports on a client's socket, as the relay answers it. */
const PARSE_ERRORS: Record<string, RingcastError> = {
  HPE_HEADER_OVERFLOW: new RingcastError('RC_HEAD_TOO_LARGE'),
  ERR_HTTP_REQUEST_TIMEOUT: new RingcastError('RC_HEAD_TIMEOUT'),
};

/**
 * Node's `clientError`: a request its parser refused (malformed, head over `maxHeaderSize`, head not
 * complete in time). Answered like every other error, with a JSON body and its code, then closed, as
 * the fast path answers the same bytes (it hands them to Node). Returns the code (undefined: the
 * socket was only closed, e.g. a reset, or a response still being written that the error cannot follow).
 */
export function answerClientError(
  err: NodeJS.ErrnoException,
  socket: Duplex,
  relayId: string,
): string | undefined {
  const current = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || (current && !current.writableEnded)) {
    socket.destroy();
    return undefined;
  }
  const e =
    PARSE_ERRORS[err.code ?? ''] ?? new RingcastError('RC_BAD_REQUEST', 'request is not valid HTTP/1.1');
  const text = JSON.stringify(e.toJSON());
  const head = [
    `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}`,
    `${RELAY_HEADER}: ${relayId}`,
    ...Object.entries(CORS_HEADERS).map(([name, value]) => `${name}: ${value}`),
    `${ERROR_HEADER}: ${e.code}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(text)}`,
    'cache-control: no-store',
    'connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${text}`);
  // A client that never closes its side must not keep the socket: the parser that timed it out is gone.
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  return e.code;
}
