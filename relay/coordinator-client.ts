import { CoordinatorBases } from '../common/coordinator-bases.ts';
import { authHeaders, type RetryPolicy, retryDelayMs } from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import type { Ring } from '../common/ring.ts';
import { SseParser } from '../common/sse.ts';
import type {
  ClusterEventMap,
  RegisterRelayRequest,
  RelayLoad,
  RingView,
  SegmentAnnouncement,
  StreamInfo,
} from '../common/types.ts';
import type { ClusterChange, ClusterSource } from './cluster-source.ts';
import type { RelayConfig } from './config.ts';
import { MemoryClusterSource } from './memory-cluster-source.ts';

export interface CoordinatorClientOptions {
  /** Every coordinator this relay may talk to (they share state through Redis); it fails over in order. */
  coordinatorUrls: readonly string[];
  clusterSecret: string;
  heartbeatIntervalMs: number;
  log: Logger;
  /** Load figures sent with each heartbeat. */
  load(): RelayLoad;
  /** Reconnect and re-register backoff. */
  retry?: RetryPolicy;
  requestTimeoutMs?: number;
  /** Calls over https with the cluster's CA (common/ca-fetch.ts); absent: global fetch. */
  fetch?: typeof fetch;
}

/** Heartbeats in a row that may report a ring version we have not seen before the events reconnect. */
const STALE_BEATS_BEFORE_RECONNECT = 3;

const DEFAULT_RETRY: RetryPolicy = {
  maxNumRetry: Number.POSITIVE_INFINITY,
  retryDelayMs: 200,
  maxRetryDelayMs: 5000,
};

/**
 * The relay's link to the coordinator: registers, heartbeats with load (registering again on 404,
 * which is what a restarted coordinator answers), and follows `GET /api/v1/events`. The last known
 * ring, streams and announcements stay in use while the coordinator is down.
 */
export class CoordinatorClient implements ClusterSource {
  private readonly state = new MemoryClusterSource();
  /** The coordinators, with the origin's failover order (common/coordinator-bases.ts). */
  private readonly coordinators: CoordinatorBases;
  private readonly retry: RetryPolicy;
  private self: RegisterRelayRequest | undefined;
  private registered = false;
  private registering: Promise<void> | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private events: AbortController | undefined;
  private stopped = false;
  private staleBeats = 0;

  constructor(private readonly opts: CoordinatorClientOptions) {
    this.coordinators = new CoordinatorBases(opts.coordinatorUrls);
    this.retry = opts.retry ?? DEFAULT_RETRY;
  }

  ring(): Ring {
    return this.state.ring();
  }
  stream(streamId: string): StreamInfo | undefined {
    return this.state.stream(streamId);
  }
  announcement(streamId: string, rendition: string, file: string): SegmentAnnouncement | undefined {
    return this.state.announcement(streamId, rendition, file);
  }
  onChange(listener: (change: ClusterChange) => void): () => void {
    return this.state.onChange(listener);
  }

  /** True once the coordinator accepted the registration (and has not forgotten it since). */
  get isRegistered(): boolean {
    return this.registered;
  }

  /** Starts registering, heartbeating and following events, all in the background. */
  start(self: RegisterRelayRequest): void {
    if (this.self) return;
    this.self = self;
    void this.register();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.opts.heartbeatIntervalMs);
    void this.follow();
  }

  /** `POST /api/v1/relays/:id/drain`: no new viewers; errors are logged, not thrown. */
  async drain(): Promise<void> {
    if (!this.self) return;
    const res = await this.call('POST', `/api/v1/relays/${this.self.id}/drain`).catch((err) => err as Error);
    if (res instanceof Error || !res.ok) this.opts.log.warn({ err: describe(res) }, 'drain call failed');
  }

  /** Stops the loops and leaves the ring (`DELETE /api/v1/relays/:id`). */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    this.events?.abort();
    if (!this.self) return;
    const res = await this.call('DELETE', `/api/v1/relays/${this.self.id}`).catch((err) => err as Error);
    if (res instanceof Error || !res.ok) this.opts.log.warn({ err: describe(res) }, 'leave call failed');
  }

  private register(): Promise<void> {
    this.registering ??= (async () => {
      for (let attempt = 0; !this.stopped; attempt++) {
        try {
          const res = await this.call('POST', '/api/v1/relays', this.self);
          if (res.ok) {
            const body = (await res.json()) as { ring?: RingView };
            if (body.ring) this.acceptRing(body.ring);
            this.registered = true;
            this.opts.log.info({ id: this.self!.id }, 'registered with coordinator');
            return;
          }
          this.opts.log.warn({ status: res.status }, 'registration refused');
        } catch (err) {
          this.opts.log.warn(
            { err: describe(err), coordinator: this.base },
            'coordinator unreachable; will register again',
          );
          this.failover();
        }
        await this.pause(retryDelayMs(this.retry, attempt));
      }
    })().finally(() => {
      this.registering = undefined;
    });
    return this.registering;
  }

  private async heartbeat(): Promise<void> {
    if (!this.registered || this.stopped) return;
    try {
      const res = await this.call('POST', `/api/v1/relays/${this.self!.id}/heartbeat`, {
        load: this.opts.load(),
      });
      if (res.status === 404) {
        // A restarted coordinator (or one that timed us out) no longer knows us.
        this.registered = false;
        void this.register();
      } else if (res.ok) {
        const { ringVersion } = (await res.json()) as { ringVersion?: number };
        this.checkRingVersion(ringVersion);
      } else await res.body?.cancel();
    } catch {
      // The next beat tries the next coordinator (the same one when there is only one).
      this.failover();
    }
  }

  /** Follows the SSE event stream forever, reconnecting with backoff. */
  private async follow(): Promise<void> {
    for (let attempt = 0; !this.stopped; ) {
      this.events = new AbortController();
      try {
        // The cluster's events (segment hashes, origin URLs) go only to holders of the secret.
        const res = await this.fetch(`${this.base}/api/v1/events`, {
          headers: { ...authHeaders(this.opts.clusterSecret), accept: 'text/event-stream' },
          signal: this.events.signal,
        });
        if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
        const parser = new SseParser((event, data) => this.onEvent(event, data));
        const decoder = new TextDecoder();
        for await (const chunk of res.body) {
          attempt = 0;
          parser.push(decoder.decode(chunk as Uint8Array, { stream: true }));
        }
      } catch (err) {
        if (!this.stopped) {
          this.opts.log.warn(
            { err: describe(err), coordinator: this.base },
            'event stream lost; reconnecting',
          );
          this.failover();
        }
      }
      if (!this.stopped) await this.pause(retryDelayMs(this.retry, attempt++));
    }
  }

  private onEvent(event: string, data: string): void {
    let body: unknown;
    try {
      body = JSON.parse(data);
    } catch {
      this.opts.log.warn({ event }, 'event with bad JSON ignored');
      return;
    }
    switch (event) {
      case 'snapshot': {
        const snap = body as ClusterEventMap['snapshot'];
        this.acceptRing(snap.ring);
        // Merged, not replaced: a coordinator that restarted empty must not cut viewers off a stream
        // whose origin is still live; an ended stream arrives as a `stream` event with its state.
        for (const s of snap.streams ?? []) this.state.putStream(s);
        // A coordinator that restarted without our registration: join again.
        if (this.registered && !snap.ring.relays.some((r) => r.id === this.self?.id)) {
          this.registered = false;
          void this.register();
        }
        break;
      }
      case 'ring':
        this.acceptRing(body as RingView);
        break;
      case 'stream':
        this.state.putStream(body as StreamInfo);
        break;
      case 'segment':
        this.state.addSegment(body as SegmentAnnouncement);
        break;
    }
  }

  /**
   * The heartbeat names the coordinator's ring version; if ours stays different the event stream is
   * silently stuck (a proxy, a half-open socket): reconnect it, which brings a fresh snapshot.
   */
  private checkRingVersion(ringVersion: number | undefined): void {
    if (ringVersion === undefined || ringVersion === this.state.ring().version) {
      this.staleBeats = 0;
      return;
    }
    if (++this.staleBeats >= STALE_BEATS_BEFORE_RECONNECT) {
      this.staleBeats = 0;
      this.opts.log.warn(
        { ringVersion, ours: this.state.ring().version },
        'ring behind the coordinator; reconnecting',
      );
      this.events?.abort();
    }
  }

  private get base(): string {
    return this.coordinators.current;
  }

  /** Moves to the next coordinator; they share membership through Redis, so nothing else changes. */
  private failover(): void {
    if (this.coordinators.next()) this.opts.log.info({ coordinator: this.base }, 'switching coordinator');
  }

  private acceptRing(view: RingView): void {
    this.state.setRing(view);
  }

  private call(method: string, path: string, body?: unknown): Promise<Response> {
    return this.fetch(`${this.base}${path}`, {
      method,
      headers: authHeaders(this.opts.clusterSecret),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 3000),
    });
  }

  private get fetch(): typeof fetch {
    return this.opts.fetch ?? fetch;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms).unref());
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err instanceof Response) return `HTTP ${err.status}`;
  return String(err);
}

/**
 * The relay's view of the cluster: the source it was given (tests, a fixed cluster), else a client of
 * the coordinators in its config, which registers the relay and reports `load` with each heartbeat.
 */
export function clusterSourceFor(
  config: Pick<RelayConfig, 'coordinatorUrl' | 'clusterSecret' | 'heartbeatIntervalMs'>,
  given: ClusterSource | undefined,
  log: Logger,
  load: () => RelayLoad,
  fetchFn?: typeof fetch,
): { cluster: ClusterSource; client: CoordinatorClient | undefined } {
  if (given) return { cluster: given, client: undefined };
  // loadRelayConfig refuses this for the CLI; a program building a Relay by hand is told here.
  if (config.coordinatorUrl.length === 0) throw new Error("relay needs 'coordinatorUrl' or a cluster source");
  const client = new CoordinatorClient({
    coordinatorUrls: config.coordinatorUrl,
    clusterSecret: config.clusterSecret,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    log,
    load,
    fetch: fetchFn,
  });
  return { cluster: client, client };
}
