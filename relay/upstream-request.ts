import { type Agent, type ClientRequest, type IncomingHttpHeaders, request } from 'node:http';
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

/**
 * One GET to an origin or a peer over a keep-alive agent, with connect, first-byte and idle
 * timeouts. Returns an abort function. A body that ends short of its Content-Length is an error,
 * never an end: the caller must not cache or complete it.
 */
export function requestUpstream(
  url: string,
  opts: {
    agent: Agent;
    headers: Record<string, string>;
    timeouts: UpstreamTimeouts;
    /** Bodies larger than this fail: a runaway upstream must not fill memory with pinned bytes. */
    maxBytes: number;
  },
  handlers: UpstreamHandlers,
): () => void {
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  let req: ClientRequest;
  let retried = false;
  try {
    req = request(url, { agent: opts.agent, headers: opts.headers, method: 'GET' });
  } catch (err) {
    // A bad announced URL fails like an unreachable upstream, asynchronously as the others do.
    queueMicrotask(() =>
      handlers.onError(new RingcastError('RC_UPSTREAM_FAILED', `bad upstream URL ${url}`, { cause: err })),
    );
    return () => {};
  }

  const finish = (err?: RingcastError) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (err) {
      req.destroy();
      handlers.onError(err);
    } else handlers.onEnd();
  };
  const arm = (ms: number, phase: string) => {
    clearTimeout(timer);
    timer = setTimeout(
      () => finish(new RingcastError('RC_UPSTREAM_TIMEOUT', `upstream ${phase} timeout after ${ms} ms`)),
      ms,
    );
  };

  arm(opts.timeouts.firstByteTimeoutMs, 'first byte');
  let responded = false;
  const send = (r: ClientRequest) => {
    req = r;
    attach(r);
    r.end();
  };
  const attach = (r: ClientRequest) => {
    r.on('socket', (socket) => {
      if (!socket.connecting) return;
      const connectTimer = setTimeout(
        () => finish(new RingcastError('RC_UPSTREAM_TIMEOUT', `upstream connect timeout`)),
        opts.timeouts.connectTimeoutMs,
      );
      socket.once('connect', () => clearTimeout(connectTimer));
      socket.once('close', () => clearTimeout(connectTimer));
    });
    r.on('error', (err: NodeJS.ErrnoException) => {
      // A keep-alive socket the upstream closed while idle: one fresh try is not a failure.
      if (!done && !retried && !responded && r.reusedSocket && err.code === 'ECONNRESET') {
        retried = true;
        send(request(url, { agent: opts.agent, headers: opts.headers, method: 'GET' }));
        return;
      }
      finish(new RingcastError('RC_UPSTREAM_FAILED', `upstream: ${err.message}`, { cause: err }));
    });
    r.on('response', (res) => {
      responded = true;
      if (done) {
        res.resume();
        return;
      }
      const declared = res.headers['content-length'];
      const expected = declared === undefined ? undefined : Number(declared);
      let received = 0;
      if (res.statusCode === 200 && expected !== undefined && expected > opts.maxBytes) {
        finish(new RingcastError('RC_UPSTREAM_FAILED', `upstream object of ${expected} bytes is too large`));
        return;
      }
      if (!handlers.onResponse(res.statusCode ?? 0, res.headers)) {
        clearTimeout(timer);
        done = true;
        res.resume();
        return;
      }
      arm(opts.timeouts.idleTimeoutMs, 'idle');
      res.on('data', (chunk: Buffer) => {
        if (done) return;
        received += chunk.length;
        if (received > opts.maxBytes) {
          finish(new RingcastError('RC_UPSTREAM_FAILED', `upstream object over ${opts.maxBytes} bytes`));
          return;
        }
        arm(opts.timeouts.idleTimeoutMs, 'idle');
        handlers.onData(chunk);
      });
      res.on('end', () => {
        if (expected !== undefined && received !== expected) {
          finish(new RingcastError('RC_UPSTREAM_FAILED', `upstream body ${received} of ${expected} bytes`));
        } else finish();
      });
      // 'close' without 'end' is a reset mid-body.
      res.on('close', () => finish(new RingcastError('RC_UPSTREAM_FAILED', 'upstream closed mid-body')));
      res.on('error', (err) => finish(new RingcastError('RC_UPSTREAM_FAILED', `upstream: ${err.message}`)));
    });
  };
  send(req);
  return () => finish(new RingcastError('RC_UPSTREAM_FAILED', 'fill aborted'));
}
