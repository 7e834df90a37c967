import type { Socket } from 'node:net';
import type { RingcastError } from '../common/errors.ts';
import type { CacheEntry } from './cache-entry.ts';
import { FastConnection } from './fast-connection.ts';
import type { FastRequest } from './request-head.ts';
import {
  type CacheResult,
  type ErrorPlan,
  type HeaderList,
  type PlanContext,
  type SendPlan,
  type StreamPlan,
  serializeHead,
} from './response-plan.ts';
import type { ZeroCopy } from './zero-copy.ts';

export type { FastRequest } from './request-head.ts';

/** What to answer: an entry to serve, an error, or undefined to hand the connection to Node's http. */
export type FastRoute = { entry: CacheEntry; result: CacheResult } | RingcastError | undefined;

export interface FastHttpDeps {
  route(req: FastRequest): FastRoute;
  /** What response plans read from the relay (response-plan.ts). */
  context(): PlanContext;
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

/** The bytes of one complete entry's 200 HIT response for one second (Date, Age). */
export interface FastHead {
  sec: number;
  age: number | undefined;
  /** The plan's headers the bytes were built from (the entry's prebuilt list). */
  headers: HeaderList;
  head: Buffer;
  /** Head and body in one Buffer, for small bodies (one write). */
  full: Buffer | undefined;
}

const SMALL_BODY = 16 * 1024;
const fastHeads = new WeakMap<CacheEntry, FastHead>();

/**
 * The relay's hot path on raw sockets: simple keep-alive HTTP/1.1 GET and HEAD requests for `/live/`
 * objects are parsed (request-head.ts) and answered here by writing the plan of response-plan.ts, as
 * Node's path does (responder.ts), with prebuilt bytes (one write per cache hit), so the hit path costs a
 * fraction of Node's http machinery. Anything else (other paths and methods, bodies, `Connection: close`,
 * HTTP/1.0, odd syntax) hands the connection, with the bytes read so far, to the Node http server for
 * the rest of its life.
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

  /** A keep-alive head: the plan's status and headers, then `extra` lines, Date and keep-alive. */
  headBytes(status: number, headers: HeaderList, now: number, extra = ''): string {
    const sec = Math.floor(now / 1000);
    const keepAlive = `connection: keep-alive\r\nkeep-alive: timeout=${Math.round(this.deps.keepAliveMs / 1000)}\r\n`;
    return serializeHead(status, headers, `${extra}date: ${this.date(sec)}\r\n${keepAlive}`);
  }

  /** The head of a send or stream plan (with its Age, and chunked framing when the plan says so). */
  planHead(plan: SendPlan | StreamPlan, now: number): Buffer {
    let extra = plan.age === undefined ? '' : `age: ${plan.age}\r\n`;
    if (plan.kind === 'stream' && plan.chunked) extra += 'transfer-encoding: chunked\r\n';
    return Buffer.from(this.headBytes(plan.status, plan.headers, now, extra), 'latin1');
  }

  /** The bytes of a 200 HIT plan of a complete entry, rebuilt when the second (Date) or the Age changes. */
  hitHead(entry: CacheEntry, plan: SendPlan, now: number): FastHead {
    const sec = Math.floor(now / 1000);
    let f = fastHeads.get(entry);
    if (f && f.sec === sec && f.age === plan.age && f.headers === plan.headers) return f;
    const head = this.planHead(plan, now);
    const body = entry.body!;
    f = {
      sec,
      age: plan.age,
      headers: plan.headers,
      head,
      full: body.length <= SMALL_BODY ? Buffer.concat([head, body], head.length + body.length) : undefined,
    };
    fastHeads.set(entry, f);
    return f;
  }

  /** An error plan's bytes; for a HEAD request the head alone (its body would desync the connection). */
  errorBytes(plan: ErrorPlan, head: boolean, now: number): Buffer {
    return Buffer.from(this.headBytes(plan.status, plan.headers, now) + (head ? '' : plan.body));
  }

  /**
   * Writes a whole answer from a complete entry: a 200 HIT from cached bytes, a whole body through
   * sendfile when it lies in a memfd region. True when sendfile carried (part of) it.
   */
  writeSend(socket: Socket, plan: SendPlan, entry: CacheEntry, hit: boolean, now: number): boolean {
    const cached = hit && plan.status === 200 ? this.hitHead(entry, plan, now) : undefined;
    const head = cached ? cached.head : this.planHead(plan, now);
    const { body } = plan;
    if (!body) {
      socket.write(head);
      return false;
    }
    this.deps.served(body.end - body.start);
    const bytes = entry.body!;
    const whole = body.start === 0 && body.end === bytes.length;
    if (whole && cached?.full) socket.write(cached.full);
    else if (whole && this.sendZeroCopy(socket, head, entry)) return true;
    else {
      socket.cork();
      socket.write(head);
      socket.write(whole ? bytes : bytes.subarray(body.start, body.end));
      socket.uncork();
    }
    return false;
  }

  /**
   * Head and body of a memfd-backed entry through sendfile, when nothing is queued before them; the
   * kernel's buffer takes what it can and the rest goes through the socket. False: not sent this way.
   */
  private sendZeroCopy(socket: Socket, head: Buffer, entry: CacheEntry): boolean {
    const { zeroCopy } = this.deps;
    const region = entry.zeroCopy;
    if (!zeroCopy || !region || socket.writableLength > 0) return false;
    const sent = zeroCopy.send(socket, head, region);
    if (sent === undefined) return false;
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
}
