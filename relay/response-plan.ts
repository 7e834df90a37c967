/**
 * The relay's answer to a `/live/` request, decided once for every front end (Node's http, the raw-socket
 * fast path, later TLS and HTTP/2): from the request, the cache entry as it is now and the cache result, a
 * plan of status, headers and body slice. Front ends only write plans, so a 206, 304, 416, HEAD or
 * streaming answer cannot differ between them (nginx runs every answer through one range and
 * not-modified filter the same way). Pure apart from memoising an entry's headers on the entry.
 */
import { STATUS_CODES } from 'node:http';
import { ERROR_CODES, type ErrorCode, RingcastError, toRingcastError } from '../common/errors.ts';
import { CORS_HEADERS, IMMUTABLE, liveContentType } from '../common/hls-http.ts';
import { CACHE_HEADER, ERROR_HEADER, RELAY_HEADER } from '../common/types.ts';
import type { CacheEntry, EntryHeaders } from './cache-entry.ts';
import { etagMatches, parseRange } from './request-head.ts';

export type CacheResult = 'HIT' | 'MISS' | 'COALESCED';

/** Headers as `[name, value, …]`: Node's `writeHead` takes them as they are, the fast path joins them. */
export type HeaderList = readonly string[];

/** What the plan reads from a request: the same on every front end. */
export interface PlanRequest {
  head: boolean;
  range?: string;
  ifNoneMatch?: string;
}

/** What the plan reads from the relay. */
export interface PlanContext {
  relayId: string;
  /** Cache-Control of playlists (short: under half a target duration). */
  playlistCacheControl: string;
}

/** Bytes `[start, end)` of the entry's body. */
export interface ByteSlice {
  start: number;
  end: number;
}

/** A whole answer from a complete entry: 200, 206 (one range), 304 (ETag matched) or 416. */
export interface SendPlan {
  kind: 'send';
  status: 200 | 206 | 304 | 416;
  /** For a 200, the entry's prebuilt list, shared by every request: never mutate it. */
  headers: HeaderList;
  /** The `Age` of a briefly cached playlist (RFC 9111 5.1), written after `headers`; undefined: none. */
  age: number | undefined;
  /** The body bytes to send; undefined for HEAD, 304 and 416. */
  body: ByteSlice | undefined;
}

/** Cut-through from an entry still filling: the head now, then its bytes as they arrive. */
export interface StreamPlan {
  kind: 'stream';
  status: 200;
  /** No ETag yet; Content-Length only when upstream declared one. */
  headers: HeaderList;
  age: 0 | undefined;
  /** No declared length and a body to send: an HTTP/1.1 writer frames it in chunks. */
  chunked: boolean;
  /** False for HEAD: the head alone. */
  body: boolean;
}

/** Nothing to write yet: plan again when the entry starts (status known) or completes. */
export interface WaitPlan {
  kind: 'wait';
}

/** A JSON error naming this relay and the code (docs/errors.md), with CORS so players can read it. */
export interface ErrorPlan {
  kind: 'error';
  status: number;
  code: string;
  headers: HeaderList;
  /** The JSON body; front ends leave it out for HEAD. */
  body: string;
}

export type ResponsePlan = SendPlan | StreamPlan | WaitPlan | ErrorPlan;

const WAIT: WaitPlan = { kind: 'wait' };

/** The answer to `req` from `entry` as it is at `now` (epoch ms). */
export function planResponse(
  req: PlanRequest,
  entry: CacheEntry,
  result: CacheResult,
  now: number,
  ctx: PlanContext,
): ResponsePlan {
  switch (entry.state) {
    case 'complete':
      return planComplete(req, entry, result, now, ctx);
    case 'failed':
      return errorPlan(entry.error, ctx.relayId);
    case 'streaming':
      // Conditional and range requests wait for the whole object: they need its ETag and length. A 404
      // being filled is answered as an error once complete.
      if (entry.status !== 200 || req.range !== undefined || req.ifNoneMatch !== undefined) return WAIT;
      return planStream(req, entry, result, ctx);
    case 'pending':
      return WAIT;
  }
}

function planComplete(
  req: PlanRequest,
  entry: CacheEntry,
  result: CacheResult,
  now: number,
  ctx: PlanContext,
): SendPlan | ErrorPlan {
  if (entry.status !== 200)
    return errorPlan(new RingcastError('RC_NOT_FOUND', `upstream has no ${entry.path.relPath}`), ctx.relayId);
  const prebuilt = entryHeaders(entry, ctx);
  const headers = prebuilt[result];
  const size = entry.body!.length;
  if (req.ifNoneMatch !== undefined && etagMatches(req.ifNoneMatch, prebuilt.etag))
    return send(304, without(headers, 'content-length', 'content-type'), undefined);
  const r = req.range === undefined ? undefined : parseRange(req.range, size);
  if (r === 'unsatisfiable') {
    const lines = [...without(headers, 'content-length'), 'content-length', '0'];
    return send(416, [...lines, 'content-range', `bytes */${size}`], undefined);
  }
  if (r) {
    const [start, end] = r;
    const lines = [...without(headers, 'content-length'), 'content-length', String(end - start + 1)];
    const body = req.head ? undefined : { start, end: end + 1 };
    return send(206, [...lines, 'content-range', `bytes ${start}-${end}/${size}`], body);
  }
  const age = isPlaylist(entry) ? ageSeconds(entry, now) : undefined;
  return { kind: 'send', status: 200, headers, age, body: req.head ? undefined : { start: 0, end: size } };
}

const send = (status: 206 | 304 | 416, headers: HeaderList, body: ByteSlice | undefined): SendPlan => ({
  kind: 'send',
  status,
  headers,
  age: undefined,
  body,
});

function planStream(req: PlanRequest, entry: CacheEntry, result: CacheResult, ctx: PlanContext): StreamPlan {
  const headers = baseHeaders(entry, result, ctx);
  if (entry.contentLength !== undefined) headers.push('content-length', String(entry.contentLength));
  return {
    kind: 'stream',
    status: 200,
    headers,
    age: isPlaylist(entry) ? 0 : undefined,
    chunked: entry.contentLength === undefined && !req.head,
    body: !req.head,
  };
}

/** The error answer for `err` (any thrown value), from relay `relayId`. */
export function errorPlan(err: unknown, relayId: string): ErrorPlan {
  const e = toRingcastError(err);
  // An upstream's failure reads like `connect ECONNREFUSED 10.0.0.5:8081`: the detail is in the relay's
  // log ('upstream fetch failed'); a viewer gets the code's own message, never an internal address.
  const body = JSON.stringify(
    GENERIC_MESSAGE.has(e.code)
      ? { error: { code: e.code, message: ERROR_CODES[e.code].message } }
      : e.toJSON(),
  );
  const headers = [
    RELAY_HEADER,
    relayId,
    ERROR_HEADER,
    e.code,
    ...Object.entries(CORS_HEADERS).flat(),
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'cache-control',
    'no-store',
  ];
  return { kind: 'error', status: e.status, code: e.code, headers, body };
}

/** Codes whose message may carry an upstream's or the runtime's detail (addresses, errno text). */
const GENERIC_MESSAGE = new Set<ErrorCode>(['RC_UPSTREAM_FAILED', 'RC_UPSTREAM_TIMEOUT', 'RC_INTERNAL']);

/** A complete entry's headers per cache result (with ETag and length), built once per object. */
export function entryHeaders(entry: CacheEntry, ctx: PlanContext): EntryHeaders {
  if (entry.headers) return entry.headers;
  const etag = `"${entry.sha256!.slice(0, 32)}"`;
  const make = (result: CacheResult) => [
    ...baseHeaders(entry, result, ctx),
    'content-length',
    String(entry.size),
    'etag',
    etag,
  ];
  entry.headers = { etag, HIT: make('HIT'), MISS: make('MISS'), COALESCED: make('COALESCED') };
  return entry.headers;
}

function baseHeaders(entry: CacheEntry, result: CacheResult, ctx: PlanContext): string[] {
  const { kind, file } = entry.path;
  const segment = kind === 'segment' || kind === 'init';
  return [
    'content-type',
    liveContentType(file),
    'cache-control',
    segment ? IMMUTABLE : ctx.playlistCacheControl,
    'accept-ranges',
    'bytes',
    ...Object.entries(CORS_HEADERS).flat(),
    RELAY_HEADER,
    ctx.relayId,
    CACHE_HEADER,
    result,
  ];
}

/** `headers` without the named fields. */
function without(headers: HeaderList, ...names: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2)
    if (!names.includes(headers[i]!)) out.push(headers[i]!, headers[i + 1]!);
  return out;
}

/** Playlists (media and master) are cached briefly and carry `Age`; everything else is immutable. */
export const isPlaylist = (entry: CacheEntry) =>
  entry.path.kind === 'playlist' || entry.path.kind === 'master';

/** Whole seconds since a cached entry completed. */
export const ageSeconds = (entry: CacheEntry, now: number) => Math.floor((now - entry.completedAt) / 1000);

/** The HTTP/1.1 status line and header lines of an answer, `extra` (whole lines) last, up to the blank line. */
export function serializeHead(status: number, headers: HeaderList, extra = ''): string {
  let s = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (let i = 0; i < headers.length; i += 2) s += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${s}${extra}\r\n`;
}
