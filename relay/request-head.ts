/**
 * Pure HTTP/1.1 request-head parsing for the relay's front ends: what the raw-socket fast path accepts
 * (anything unusual is left to Node's parser, so both paths refuse the same bytes alike), and the two
 * request headers every front end reads the same way, `Range` and `If-None-Match` (RFC 9110 13.1.2, 14.2).
 */

/** A `/live/` GET or HEAD the fast path parsed (Node's http path fills the same fields). */
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

/** What the fast path reads from a header block. */
export interface HeaderFields {
  hop: string | undefined;
  onlyIfCached: boolean;
  ua: string;
  range?: string;
  ifNoneMatch?: string;
}

/** Where the target of a request line lies: `buf[start, end)`. */
export interface RequestLine {
  head: boolean;
  start: number;
  end: number;
  /** Where the header block starts (after the request line's CRLF). */
  headersAt: number;
}

export const HEAD_END = Buffer.from('\r\n\r\n');
export const BARE_LF = Buffer.from('\n\n');
/** Heads longer than this are Node's to refuse (431), however they arrive. */
export const MAX_HEAD = 8192;
const GET_PREFIX = Buffer.from('GET /live/');
const HEAD_PREFIX = Buffer.from('HEAD /live/');
// Private streams' viewers come as `/t/<token>/live/…` (docs/api.md, "Signed playback"): hot path too.
const GET_TOKEN_PREFIX = Buffer.from('GET /t/');
const HEAD_TOKEN_PREFIX = Buffer.from('HEAD /t/');
const HTTP11_CRLF = Buffer.from(' HTTP/1.1\r\n');
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Characters Node's parser refuses in a header value. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/** True while `buf` may still be the start of `GET /live/…` or `HEAD /live/…` (or `/t/…`, a token path). */
export function couldBeFast(buf: Buffer): boolean {
  const head = buf[0] === 0x48;
  return (
    startsAs(buf, head ? HEAD_PREFIX : GET_PREFIX) ||
    startsAs(buf, head ? HEAD_TOKEN_PREFIX : GET_TOKEN_PREFIX)
  );
}

function startsAs(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(prefix.length, buf.length);
  return buf.compare(prefix, 0, n, 0, n) === 0;
}

/**
 * The request line `<method> <target> HTTP/1.1` of a head that starts with `GET ` or `HEAD ` (couldBeFast)
 * and ends at `end` (its CRLFCRLF); undefined for any other shape.
 */
export function parseRequestLine(buf: Buffer, end: number): RequestLine | undefined {
  const head = buf[0] === 0x48;
  const start = head ? 5 : 4;
  const sp = buf.indexOf(0x20, start);
  const after = sp + HTTP11_CRLF.length;
  if (sp < 0 || after > end + 2 || buf.compare(HTTP11_CRLF, 0, HTTP11_CRLF.length, sp, after) !== 0)
    return undefined;
  return { head, start, end: sp, headersAt: after };
}

/** True when `buf[start, end)` is visible ASCII only: anything else is Node's to refuse (400). */
export function visibleAscii(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i]! < 0x21 || buf[i]! > 0x7e) return false;
  return true;
}

/** A request target split at its first `?`. */
export function splitTarget(target: string): { pathname: string; query: string } {
  const q = target.indexOf('?');
  return { pathname: q < 0 ? target : target.slice(0, q), query: q < 0 ? '' : target.slice(q + 1) };
}

/** The header lines of a head (CRLF-separated, no request line); undefined for anything unusual. */
export function parseHeaders(block: string): HeaderFields | undefined {
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
    if (name === 'host') host = true;
    else if (!readField(fields, name, value)) return undefined;
  }
  return host ? fields : undefined;
}

/** Reads one header into `fields`; false when it makes the request Node's (a body, an upgrade…). */
function readField(fields: HeaderFields, name: string, value: string): boolean {
  switch (name) {
    case 'user-agent':
      fields.ua = value;
      return true;
    case 'cache-control':
      fields.onlyIfCached = value.includes('only-if-cached');
      return true;
    case 'x-ringcast-hop':
      // A repeated hop header is not a ring member's (Node's path sees it joined): no token.
      fields.hop = fields.hop === undefined ? value : '';
      return true;
    case 'connection':
      return /^keep-alive$/i.test(value);
    case 'range':
      if (fields.range !== undefined) return false;
      fields.range = value;
      return true;
    case 'if-none-match':
      if (fields.ifNoneMatch !== undefined) return false;
      fields.ifNoneMatch = value;
      return true;
    case 'content-length':
    case 'transfer-encoding':
    case 'expect':
    case 'upgrade':
      return false;
    default:
      return true;
  }
}

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
