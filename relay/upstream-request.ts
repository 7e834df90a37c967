import {
  type Agent,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
} from 'node:http';
import { type Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { RingcastError } from '../common/errors.ts';

/** Timeouts of one upstream request; each names the phase it bounds. */
export interface UpstreamTimeouts {
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
}

/** Callbacks of one upstream request; exactly one of onEnd / onError ends it. */
export interface UpstreamHandlers {
  /** Status and headers arrived; return false to drop the body (it is drained, not read). */
  onResponse(status: number, headers: IncomingHttpHeaders): boolean;
  onData(chunk: Buffer): void;
  /** The whole body arrived, as long as its Content-Length said. */
  onEnd(): void;
  /** Reset, timeout, or a body shorter or longer than declared. */
  onError(err: RingcastError): void;
}

/** Options of one upstream request. */
export interface UpstreamOptions {
  agent: Agent;
  /** For https upstreams (the cluster's CA, `tlsCa`); absent: Node's global https agent. */
  tlsAgent?: HttpsAgent;
  headers: Record<string, string>;
  timeouts: UpstreamTimeouts;
  /** Bodies larger than this fail: a runaway upstream must not fill memory with pinned bytes. */
  maxBytes: number;
}

/**
 * One GET to an origin or a peer over a keep-alive agent, with connect, first-byte and idle
 * timeouts. Returns an abort function. A body that ends short of its Content-Length is an error,
 * never an end: the caller must not cache or complete it.
 */
export function requestUpstream(url: string, opts: UpstreamOptions, handlers: UpstreamHandlers): () => void {
  return new UpstreamRequest(url, opts, handlers).start();
}

const failure = (message: string, cause?: unknown): RingcastError =>
  new RingcastError('RC_UPSTREAM_FAILED', message, cause === undefined ? undefined : { cause });

/** The state of one upstream request; exactly one of handlers.onEnd / onError ends it (finish()). */
class UpstreamRequest {
  private done = false;
  private timer: NodeJS.Timeout | undefined;
  private req: ClientRequest | undefined;
  private retried = false;
  private responded = false;

  constructor(
    private readonly url: string,
    private readonly opts: UpstreamOptions,
    private readonly handlers: UpstreamHandlers,
  ) {}

  start(): () => void {
    let req: ClientRequest;
    try {
      req = this.newRequest();
    } catch (err) {
      // A bad announced URL fails like an unreachable upstream, asynchronously as the others do.
      queueMicrotask(() => this.handlers.onError(failure(`bad upstream URL ${this.url}`, err)));
      return () => {};
    }
    this.arm(this.opts.timeouts.firstByteTimeoutMs, 'first byte');
    this.send(req);
    return () => this.finish(failure('fill aborted'));
  }

  private newRequest(): ClientRequest {
    const { headers } = this.opts;
    if (this.url.startsWith('https:'))
      return httpsRequest(this.url, { agent: this.opts.tlsAgent, headers, method: 'GET' });
    return request(this.url, { agent: this.opts.agent, headers, method: 'GET' });
  }

  private finish(err?: RingcastError): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    if (err) {
      this.req?.destroy();
      this.handlers.onError(err);
    } else this.handlers.onEnd();
  }

  private arm(ms: number, phase: string): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => this.finish(new RingcastError('RC_UPSTREAM_TIMEOUT', `upstream ${phase} timeout after ${ms} ms`)),
      ms,
    );
  }

  private send(r: ClientRequest): void {
    this.req = r;
    r.on('socket', (socket) => this.watchConnect(socket));
    r.on('error', (err: NodeJS.ErrnoException) => this.onRequestError(r, err));
    r.on('response', (res) => this.onResponse(res));
    r.end();
  }

  /** A new connection must connect within connectTimeoutMs (a reused one is connected already). */
  private watchConnect(socket: Socket): void {
    if (!socket.connecting) return;
    const connectTimer = setTimeout(
      () => this.finish(new RingcastError('RC_UPSTREAM_TIMEOUT', `upstream connect timeout`)),
      this.opts.timeouts.connectTimeoutMs,
    );
    socket.once('connect', () => clearTimeout(connectTimer));
    socket.once('close', () => clearTimeout(connectTimer));
  }

  private onRequestError(r: ClientRequest, err: NodeJS.ErrnoException): void {
    // A keep-alive socket the upstream closed while idle: one fresh try is not a failure.
    if (!this.done && !this.retried && !this.responded && r.reusedSocket && err.code === 'ECONNRESET') {
      this.retried = true;
      this.send(this.newRequest());
      return;
    }
    this.finish(failure(`upstream: ${err.message}`, err));
  }

  private onResponse(res: IncomingMessage): void {
    this.responded = true;
    if (this.done) {
      res.resume();
      return;
    }
    const declared = res.headers['content-length'];
    const expected = declared === undefined ? undefined : Number(declared);
    if (res.statusCode === 200 && expected !== undefined && expected > this.opts.maxBytes) {
      this.finish(failure(`upstream object of ${expected} bytes is too large`));
      return;
    }
    if (!this.handlers.onResponse(res.statusCode ?? 0, res.headers)) {
      clearTimeout(this.timer);
      this.done = true;
      res.resume();
      return;
    }
    this.readBody(res, expected);
  }

  private readBody(res: IncomingMessage, expected: number | undefined): void {
    const { maxBytes, timeouts } = this.opts;
    let received = 0;
    this.arm(timeouts.idleTimeoutMs, 'idle');
    res.on('data', (chunk: Buffer) => {
      if (this.done) return;
      received += chunk.length;
      if (received > maxBytes) {
        this.finish(failure(`upstream object over ${maxBytes} bytes`));
        return;
      }
      this.arm(timeouts.idleTimeoutMs, 'idle');
      this.handlers.onData(chunk);
    });
    res.on('end', () => {
      if (expected !== undefined && received !== expected) {
        this.finish(failure(`upstream body ${received} of ${expected} bytes`));
      } else this.finish();
    });
    // 'close' without 'end' is a reset mid-body.
    res.on('close', () => this.finish(failure('upstream closed mid-body')));
    res.on('error', (err) => this.finish(failure(`upstream: ${err.message}`)));
  }
}
