import type { IncomingMessage, ServerResponse } from 'node:http';
import { RingcastError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { formatSse, openSse } from '../common/sse.ts';

/** How often an idle stream gets a comment, so proxies and clients do not drop it. */
const KEEPALIVE_INTERVAL_MS = 15_000;

/** Why a subscriber was dropped: too much queued for it, or its socket did not drain for too long. */
export type SubscriberDropReason = 'buffer' | 'stalled';

export interface EventHubOptions {
  /** Which stream this hub serves (`cluster`, `dashboard`), for logs and metrics. */
  view: string;
  /** Open streams in all. */
  maxSubscribers: number;
  /** Open streams per client address; Infinity for no such cap. */
  maxPerAddress: number;
  /** The key a request counts under for maxPerAddress (`clientAddressKey`). */
  addressOf: (req: IncomingMessage) => string;
  /** A subscriber with more than this queued (in Node and not yet taken by the kernel) is dropped. */
  maxBufferedBytes: number;
  /** A subscriber whose socket has not drained for this long is dropped. */
  stallTimeoutMs: number;
  log: Logger;
  onDrop?: (reason: SubscriberDropReason) => void;
  onRefuse?: () => void;
}

interface Subscriber {
  res: ServerResponse;
  address: string;
  /** When a write last returned false without a `drain` since; undefined while the socket drains. */
  blockedSinceMs: number | undefined;
}

/** One initial event written to a new subscriber before any later broadcast can reach it. */
export interface SseEvent {
  event: string;
  data: unknown;
}

/**
 * The SSE subscribers of one event stream, bounded: so many per address and in all (429 beyond), and
 * a subscriber that stops reading is dropped instead of queueing every later event in memory.
 */
export class EventHub {
  private readonly clients = new Map<ServerResponse, Subscriber>();
  private readonly perAddress = new Map<string, number>();
  private tickTimer: NodeJS.Timeout | undefined;
  private lastKeepaliveMs = 0;

  constructor(private readonly opts: EventHubOptions) {}

  get clientCount(): number {
    return this.clients.size;
  }

  /** Checks the caps (RC_TOO_MANY_SUBSCRIBERS), opens the stream and writes `initial`. */
  add(req: IncomingMessage, res: ServerResponse, initial: readonly SseEvent[]): void {
    const address = this.opts.addressOf(req);
    const fromAddress = this.perAddress.get(address) ?? 0;
    const full = this.clients.size >= this.opts.maxSubscribers;
    if (full || fromAddress >= this.opts.maxPerAddress) {
      const why = full
        ? `${this.opts.maxSubscribers} subscribers already`
        : `${fromAddress} subscribers from this address already`;
      this.opts.log.warn({ view: this.opts.view, address }, `event subscription refused: ${why}`);
      this.opts.onRefuse?.();
      throw new RingcastError('RC_TOO_MANY_SUBSCRIBERS', `too many event subscribers: ${why}`);
    }
    openSse(res);
    const sub: Subscriber = { res, address, blockedSinceMs: undefined };
    this.clients.set(res, sub);
    this.perAddress.set(address, fromAddress + 1);
    res.on('close', () => this.remove(sub));
    for (const e of initial) this.write(sub, formatSse(e.event, e.data));
    if (!this.tickTimer) {
      this.lastKeepaliveMs = Date.now();
      this.tickTimer = setInterval(() => this.tick(), Math.min(1000, this.opts.stallTimeoutMs)).unref();
    }
  }

  /** Sends one event to every subscriber (serialised once). */
  broadcast(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    const text = formatSse(event, data);
    for (const sub of this.clients.values()) this.write(sub, text);
  }

  /** Ends every stream (on close), so clients reconnect elsewhere instead of hanging. */
  closeAll(): void {
    clearInterval(this.tickTimer);
    this.tickTimer = undefined;
    for (const sub of [...this.clients.values()]) {
      this.remove(sub);
      sub.res.end();
    }
  }

  private write(sub: Subscriber, text: string): void {
    // Checked before writing: what is queued already is what this client failed to take.
    if (sub.res.writableLength > this.opts.maxBufferedBytes) {
      this.drop(sub, 'buffer');
      return;
    }
    if (sub.res.write(text) || sub.blockedSinceMs !== undefined) return;
    sub.blockedSinceMs = Date.now();
    sub.res.once('drain', () => {
      sub.blockedSinceMs = undefined;
    });
  }

  private tick(): void {
    const now = Date.now();
    for (const sub of [...this.clients.values()]) {
      if (sub.blockedSinceMs !== undefined && now - sub.blockedSinceMs >= this.opts.stallTimeoutMs)
        this.drop(sub, 'stalled');
    }
    if (now - this.lastKeepaliveMs < KEEPALIVE_INTERVAL_MS) return;
    this.lastKeepaliveMs = now;
    for (const sub of [...this.clients.values()]) this.write(sub, `: keepalive ${now}\n\n`);
  }

  private drop(sub: Subscriber, reason: SubscriberDropReason): void {
    if (!this.remove(sub)) return;
    this.opts.log.warn(
      {
        view: this.opts.view,
        address: sub.address,
        reason,
        bufferedBytes: sub.res.writableLength,
        blockedMs: sub.blockedSinceMs === undefined ? 0 : Date.now() - sub.blockedSinceMs,
      },
      'event subscriber dropped: it stopped reading',
    );
    this.opts.onDrop?.(reason);
    sub.res.destroy();
  }

  /** Forgets a subscriber; false when it was already gone. */
  private remove(sub: Subscriber): boolean {
    if (!this.clients.delete(sub.res)) return false;
    const n = (this.perAddress.get(sub.address) ?? 1) - 1;
    if (n > 0) this.perAddress.set(sub.address, n);
    else this.perAddress.delete(sub.address);
    if (this.clients.size === 0) {
      clearInterval(this.tickTimer);
      this.tickTimer = undefined;
    }
    return true;
  }
}
