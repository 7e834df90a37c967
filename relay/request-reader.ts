import type { Socket } from 'node:net';
import {
  type FastRequest,
  type HeaderFields,
  parseHeaders,
  parseRequestLine,
  splitTarget,
  visibleAscii,
} from './request-head.ts';
import { agentSession } from './viewer-tracker.ts';

/**
 * Reads the requests of one fast-path connection (request-head.ts does the parsing), remembering what
 * repeats: a player's requests usually differ only in the target, so its header block, its target and
 * its session are each worked out once while they stay the same.
 */
export class RequestReader {
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

  constructor(private readonly socket: Socket) {}

  /**
   * A request the fast path can answer, or undefined (anything unusual goes to Node). `buf` starts with
   * `GET /live/` or `HEAD /live/` (couldBeFast) and its head ends at `end`. The header block is parsed
   * once per distinct block on a connection: a client's requests usually repeat it byte for byte, so
   * the next one costs a compare; the target's strings are reused the same way.
   */
  read(buf: Buffer, end: number): FastRequest | undefined {
    const line = parseRequestLine(buf, end);
    if (!line) return undefined;
    const headers = this.headers(buf, line.headersAt, end);
    if (!headers) return undefined;
    let target = this.target;
    const { start, end: targetEnd } = line;
    if (
      !target ||
      target.bytes.length !== targetEnd - start ||
      buf.compare(target.bytes, 0, target.bytes.length, start, targetEnd) !== 0
    ) {
      if (!visibleAscii(buf, start, targetEnd)) return undefined;
      const bytes = Buffer.from(buf.subarray(start, targetEnd));
      target = { bytes, ...splitTarget(bytes.toString('latin1')) };
      this.target = target;
    }
    this.requestUa = headers.ua;
    return {
      head: line.head,
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
}
