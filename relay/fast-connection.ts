import type { Socket } from 'node:net';
import { RingcastError } from '../common/errors.ts';
import type { CacheEntry } from './cache-entry.ts';
import type { FastHttp } from './fast-http.ts';
import { followEntry } from './plan-follower.ts';
import { BARE_LF, couldBeFast, type FastRequest, HEAD_END, MAX_HEAD } from './request-head.ts';
import { RequestReader } from './request-reader.ts';
import {
  type CacheResult,
  errorPlan,
  planResponse,
  type ResponsePlan,
  type SendPlan,
} from './response-plan.ts';

/** A head still incomplete after this long goes to Node's http (and its headersTimeout). */
const HEAD_WAIT_MS = 5000;

/** One viewer connection while the fast path owns it. Requests are answered one at a time, in order. */
export class FastConnection {
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
  private readonly reader: RequestReader;

  constructor(
    readonly socket: Socket,
    private readonly fast: FastHttp,
  ) {
    this.reader = new RequestReader(socket);
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
      const req = this.reader.read(buf, end);
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

  /** Writes the plan for a routed request: at once for a complete entry or an error, else following the fill. */
  private respond(
    req: FastRequest,
    routed: { entry: CacheEntry; result: CacheResult } | RingcastError,
  ): void {
    const { fast, socket } = this;
    const now = Date.now();
    if (routed instanceof RingcastError) {
      socket.write(fast.errorBytes(errorPlan(routed, fast.deps.context().relayId), req.head, now));
      return;
    }
    const { entry, result } = routed;
    const plan = planResponse(req, entry, result, now, fast.deps.context());
    if (plan.kind === 'send') this.send(plan, entry, result === 'HIT');
    else if (plan.kind === 'error') socket.write(fast.errorBytes(plan, req.head, now));
    else this.follow(req, entry, result, plan);
  }

  /** A whole answer; sendfile leaves bytes in the kernel that onTimeout must count as in flight. */
  private send(plan: SendPlan, entry: CacheEntry, hit: boolean): void {
    if (this.fast.writeSend(this.socket, plan, entry, hit, Date.now())) this.kernelQueued = 1;
  }

  /**
   * Cut-through (plan-follower.ts): the head once status and length are known, then bytes as they arrive.
   * Longer than most: one writer object, each step a line or two, reads better whole than split.
   */
  private follow(req: FastRequest, entry: CacheEntry, result: CacheResult, first: ResponsePlan): void {
    const { socket, fast } = this;
    this.busy = true;
    fast.deps.pin(entry);
    let chunked = false;
    let finished = false;
    const stop = followEntry(
      {
        entry,
        plan: () => planResponse(req, entry, result, Date.now(), fast.deps.context()),
        planError: (err) => errorPlan(err, fast.deps.context().relayId),
        answer: (p) =>
          p.kind === 'send'
            ? this.send(p, entry, result === 'HIT')
            : socket.write(fast.errorBytes(p, req.head, Date.now())),
        start: (p) => {
          chunked = p.chunked;
          socket.write(fast.planHead(p, Date.now()));
        },
        data: (chunk) => writeChunk(socket, chunk, chunked),
        end: () => {
          if (chunked) socket.write('0\r\n\r\n');
          fast.deps.served(entry.size);
        },
        cut: () => socket.destroy(),
        // Also from inside followEntry (a HEAD's head alone): then no cancel is set below.
        done: () => {
          finished = true;
          this.cancel = undefined;
          fast.deps.unpin(entry);
          this.busy = false;
          // Not from inside the entry's listener loop: the next request may follow the same entry.
          process.nextTick(() => this.drive());
        },
      },
      first,
    );
    if (finished) return;
    this.cancel = () => {
      stop();
      fast.deps.unpin(entry);
    };
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

/** One body chunk, framed when the answer is chunked (no declared length). */
function writeChunk(socket: Socket, chunk: Buffer, chunked: boolean): void {
  if (chunk.length === 0) return;
  if (!chunked) {
    socket.write(chunk);
    return;
  }
  socket.cork();
  socket.write(`${chunk.length.toString(16)}\r\n`);
  socket.write(chunk);
  socket.write('\r\n');
  socket.uncork();
}
