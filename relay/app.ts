import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ClusterTls } from '../common/ca-fetch.ts';
import { RingcastError } from '../common/errors.ts';
import { PREFLIGHT_HEADERS, playlistCacheControl } from '../common/hls-http.ts';
import { sendError } from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import { playbackKeysOf } from '../common/playback-gate.ts';
import { TlsFiles } from '../common/tls-files.ts';
import { HOP_HEADER } from '../common/types.ts';
import type { ClusterSource } from './cluster-source.ts';
import type { RelayConfig } from './config.ts';
import { relayControlRoutes } from './control-routes.ts';
import { type CoordinatorClient, clusterSourceFor } from './coordinator-client.ts';
import { FastHttp, type FastRequest } from './fast-http.ts';
import { Filler } from './filler.ts';
import type { H2FrontDeps } from './h2-front.ts';
import { HopAuth } from './hop-auth.ts';
import { header } from './live-query.ts';
import { type LiveRoute, LiveRouter } from './live-router.ts';
import { type FrontDeps, PlainFront, type RelayFront } from './plain-front.ts';
import { Prefetcher } from './prefetcher.ts';
import { RelayMetrics } from './relay-metrics.ts';
import { RequestGuard } from './request-guard.ts';
import { answerClientError, Responder, sendRelayError } from './responder.ts';
import { SegmentCache } from './segment-cache.ts';
import { TlsFront } from './tls-front.ts';
import { agentSession, ViewerTracker } from './viewer-tracker.ts';
import { ZeroCopy } from './zero-copy.ts';

export interface RelayDeps {
  log: Logger;
  /** Cluster view; without one the relay registers with `coordinatorUrl`. */
  cluster?: ClusterSource;
}

type RelayState = 'new' | 'running' | 'draining' | 'closed';

/**
 * The relay: serves `/live/...` from its cache, fills misses through the ring, prefetches announced
 * segments it owns (or whose rendition it has viewers for), and reports to the coordinator.
 */
export class Relay {
  private readonly cache: SegmentCache;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  private readonly clusterTls: ClusterTls | undefined;
  private readonly metrics: RelayMetrics;
  private readonly viewers = new ViewerTracker();
  /** Who may send a hop request (ring members, by the cluster secret). */
  private readonly hopAuth: HopAuth;
  /** The live window per rendition: names far outside it never reach upstream. */
  private readonly guard: RequestGuard;
  private readonly cluster: ClusterSource;
  private readonly client: CoordinatorClient | undefined;
  private readonly filler: Filler;
  private readonly responder: Responder;
  private readonly log: Logger;
  /** sendfile for large bodies (zero-copy.ts); undefined when off or not built. */
  private readonly zeroCopy: ZeroCopy | undefined;
  private readonly router: LiveRouter;
  private readonly prefetcher: Prefetcher;
  /** `/healthz`, `/metrics` and any other path outside `/live/`, on express (control-routes.ts). */
  private readonly control: (req: IncomingMessage, res: ServerResponse) => void;
  /** The port: plain HTTP/1.1 (plain-front.ts) or, with a certificate, HTTPS with HTTP/2 (tls-front.ts). */
  private front: RelayFront | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private prunes = 0;
  private state: RelayState = 'new';
  private id = '';
  private url = '';
  private starting: Promise<{ url: string; id: string }> | undefined;
  private closing: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  private drainTimer: { timer: NodeJS.Timeout; done: () => void } | undefined;

  constructor(
    private readonly config: RelayConfig,
    deps: RelayDeps,
  ) {
    // Whole, in dependency order: the relay's wiring reads top to bottom as one diagram; each part is
    // built in its own file (live-router, prefetcher, control-routes, filler, responder).
    this.log = deps.log.child({ component: 'relay' });
    this.cache = new SegmentCache(config.cacheBytes);
    this.hopAuth = new HopAuth(config.clusterSecret, this.log);
    this.guard = new RequestGuard(this.log, playbackKeysOf(config));
    this.metrics = new RelayMetrics({
      cacheBytes: () => this.cache.bytes,
      cacheEntries: () => this.cache.size,
      viewersByStream: () => this.viewers.counts(Date.now()),
      originLinksDown: () => this.filler.originLinksDown(),
      zeroCopyBytes: () => this.zeroCopy?.sent ?? 0,
      refused: () => ({ ...this.guard.refused, forged_hop: this.hopAuth.refused }),
    });
    // The cluster's CA for https links, read at start.
    const tls = config.tlsCa ? new ClusterTls(config.tlsCa) : undefined;
    this.clusterTls = tls;
    ({ cluster: this.cluster, client: this.client } = clusterSourceFor(
      config,
      deps.cluster,
      this.log,
      () => ({
        viewers: this.viewers.total(Date.now()),
        cacheBytes: this.cache.bytes,
        bytesServedTotal: this.metrics.bytesServedTotal,
      }),
      tls?.fetch,
    ));
    const selfId = () => this.id;
    if (config.zeroCopy) {
      const { zeroCopy, error } = ZeroCopy.open();
      this.zeroCopy = zeroCopy;
      if (error) this.log.warn({ reason: error }, 'zero-copy off: segments are sent with plain writes');
    }
    this.filler = new Filler({
      zeroCopy: this.zeroCopy,
      config,
      cluster: this.cluster,
      cache: this.cache,
      agent: this.agent,
      clusterTls: tls,
      metrics: this.metrics,
      log: this.log,
      selfId,
      hopToken: this.hopAuth.token,
      onPlaylist: (entry) => this.guard.learnPlaylist(entry),
    });
    this.responder = new Responder({
      relayId: selfId,
      cache: this.cache,
      metrics: this.metrics,
      log: this.log,
      playlistCacheControl: playlistCacheControl(config.playlistMaxAgeMs),
    });
    const { cluster, cache, hopAuth, viewers, guard, filler, metrics } = this;
    this.router = new LiveRouter({ cluster, cache, hopAuth, viewers, guard, filler, metrics });
    this.prefetcher = new Prefetcher({ cluster, cache, viewers, guard, filler, metrics, selfId });
    this.control = relayControlRoutes({
      health: () => this.health(),
      registry: this.metrics.registry,
      log: this.log,
    });
  }

  /** Listens, learns its id and URL, joins the cluster; resolves once it serves. */
  start(): Promise<{ url: string; id: string }> {
    this.starting ??= (async () => {
      this.clusterTls?.load();
      this.front = this.config.tlsCert ? this.tlsFront() : new PlainFront(this.frontDeps(this.zeroCopy));
      const bound = await this.front.listen(this.config.port, this.config.host);
      const port = new URL(bound).port;
      this.id = this.config.id || `relay-${port}`;
      this.url =
        this.config.publicUrl || // trimmed by the config loader
        bound.replace(/\/\/(0\.0\.0\.0|\[::\])(?=:)/, '//127.0.0.1');
      this.unsubscribe = this.cluster.onChange((c) => {
        if (this.state !== 'closed') this.prefetcher.onChange(c);
      });
      this.client?.start({ id: this.id, url: this.url, capacity: this.config.capacity });
      // Viewer figures are pruned when read; read them now and then so idle streams do not pile up.
      // Expired playlists and negative entries leave within a second, whether read again or not.
      this.pruneTimer = setInterval(() => this.prune(), 1000).unref();
      this.state = 'running';
      this.log.debug({ id: this.id, url: this.url }, 'relay started');
      return { url: this.url, id: this.id };
    })();
    return this.starting;
  }

  /** HTTPS with HTTP/2 and HTTP/1.1 on one port; the certificate is re-read on renewal. */
  private tlsFront(): TlsFront {
    const tls = new TlsFiles({ certFile: this.config.tlsCert, keyFile: this.config.tlsKey, log: this.log });
    // Plain writes behind TLS: sendfile would bypass it (the config refuses zeroCopy with TLS).
    return new TlsFront({ ...this.frontDeps(undefined), tls, h2: this.planDeps() });
  }

  private clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const code = answerClientError(err, socket, this.id);
    if (code) this.guard.note('bad_head', code);
  }

  /** Tells the coordinator to send no new viewers, then keeps serving for `drainMs`. */
  async drain(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'draining';
    await this.client?.drain();
    await new Promise<void>((done) => {
      this.drainTimer = { timer: setTimeout(done, this.config.drainMs), done };
    });
    this.drainTimer = undefined;
  }

  /** Stops intake (503), fails running fills, leaves the cluster, closes the server. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'closed';
      if (this.drainTimer) {
        clearTimeout(this.drainTimer.timer);
        this.drainTimer.done();
      }
      this.unsubscribe?.();
      clearInterval(this.pruneTimer);
      this.filler.abortAll();
      await this.client?.close();
      if (this.front) {
        const front = this.front;
        // In-flight responses get a moment to finish; then the remaining connections are cut.
        const force = setTimeout(() => front.destroyAll(), 2000);
        await front.close();
        clearTimeout(force);
      }
      this.agent.destroy();
      this.clusterTls?.destroy();
      this.cache.clear();
    })();
    return this.closing;
  }

  /** How a front end reaches the relay: Node's handler, the fast path (when on), timeouts. */
  private frontDeps(zeroCopy: ZeroCopy | undefined): FrontDeps {
    return {
      log: this.log,
      onRequest: (req, res) => this.handle(req, res),
      onClientError: (err, socket) => this.clientError(err, socket),
      fast: this.config.fastPath ? (handOff) => this.newFastHttp(handOff, zeroCopy) : undefined,
      keepAliveMs: KEEP_ALIVE_MS,
      stallMs: STALL_MS,
    };
  }

  /** What every front end that writes plans reads from the relay (fast path, HTTP/2). */
  private planDeps(): H2FrontDeps {
    return {
      route: (req) => (this.state === 'closed' ? undefined : this.route(req)),
      context: () => this.responder.context(),
      pin: (entry) => this.cache.pin(entry),
      unpin: (entry) => this.cache.unpin(entry),
      served: (bytes) => this.metrics.served(bytes),
    };
  }

  /** The raw-socket fast path; `handOff` gives a connection to Node's HTTP/1.1 handler. */
  private newFastHttp(handOff: (socket: Socket) => void, zeroCopy: ZeroCopy | undefined): FastHttp {
    return new FastHttp({
      ...this.planDeps(),
      handOff: (socket) => {
        this.metrics.handOffs.inc();
        handOff(socket);
      },
      keepAliveMs: KEEP_ALIVE_MS,
      stallMs: STALL_MS,
      zeroCopy,
    });
  }

  /** Drops expired cache entries; every 5th run, stale viewer figures too. */
  private prune(): void {
    const now = Date.now();
    this.cache.sweep(now, true);
    if (++this.prunes % 5 === 0) this.viewers.counts(now);
  }

  /**
   * Node's front end. Shutdown, a missing Host and OPTIONS are answered here for every path, as the fast
   * path does; `/live/` is routed below, anything else goes to the control routes on express.
   */
  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    if (this.state === 'closed') {
      res.setHeader('connection', 'close');
      sendError(res, new RingcastError('RC_SHUTTING_DOWN'));
    } else if (req.headers.host === undefined && req.httpVersion === '1.1') {
      // RFC 9112 3.2: a 1.1 request without Host is a 400 (Node would send a bare one).
      res.setHeader('connection', 'close');
      sendRelayError(res, new RingcastError('RC_BAD_REQUEST', 'Host header missing'), this.id);
    } else if (req.method === 'OPTIONS') {
      res.writeHead(204, PREFLIGHT_HEADERS);
      res.end();
    } else if (!pathname.startsWith('/live/') && !pathname.startsWith('/t/')) {
      this.control(req, res);
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, new RingcastError('RC_METHOD_NOT_ALLOWED'));
    } else this.handleLive(req, res, pathname, q < 0 ? '' : url.slice(q + 1));
  }

  private handleLive(req: IncomingMessage, res: ServerResponse, pathname: string, query: string): void {
    const routed = this.route({
      head: req.method === 'HEAD',
      pathname,
      query,
      hop: header(req.headers[HOP_HEADER]),
      onlyIfCached: req.headers['cache-control']?.includes('only-if-cached') === true,
      session: () => agentSession(req.socket.remoteAddress ?? '', header(req.headers['user-agent'])),
      address: () => req.socket.remoteAddress ?? '',
    });
    if (routed instanceof RingcastError) sendRelayError(res, routed, this.id);
    else this.responder.serve(req, res, routed.entry, routed.result);
  }

  /** The route decision (live-router.ts), for both front ends; installFastPath and handleLive call it. */
  private route(req: FastRequest): LiveRoute {
    return this.router.route(req);
  }

  private health(): Record<string, unknown> {
    return {
      ok: true,
      part: 'relay',
      id: this.id,
      url: this.url,
      state: this.state,
      ringVersion: this.cluster.ring().version,
      cacheBytes: this.cache.bytes,
      cacheEntries: this.cache.size,
      zeroCopy: this.zeroCopy !== undefined,
    };
  }
}

const KEEP_ALIVE_MS = 5000;
const STALL_MS = 30_000;
