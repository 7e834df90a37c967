import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { RingcastError } from '../common/errors.ts';
import { closeServer, listen, sendError, sendJson } from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import { sendMetrics } from '../common/metrics.ts';
import { addApiRoutes } from './api-routes.ts';
import { clientAddressKey } from './client-address.ts';
import type { CoordinatorConfig } from './config.ts';
import { CoordinatorMetrics } from './coordinator-metrics.ts';
import { CoordinatorState } from './coordinator-state.ts';
import { DashboardFeed } from './dashboard-feed.ts';
import { EventHub } from './event-hub.ts';
import { MemoryStore } from './memory-store.ts';
import { RedisStore } from './redis-store.ts';
import { Router } from './router.ts';
import { resolveStaticPath, sendStaticFile } from './static-files.ts';
import type { ClusterStore } from './store.ts';
import { addStreamKeyRoutes } from './stream-key-routes.ts';
import { StreamRegistry } from './stream-registry.ts';
import { ViewerBalancer } from './viewer-balancer.ts';
import { addViewerRoutes } from './viewer-routes.ts';

const DASHBOARD_FILE = fileURLToPath(new URL('./dashboard.html', import.meta.url));
const HLS_JS_FILE = fileURLToPath(new URL('../node_modules/hls.js/dist/hls.min.js', import.meta.url));

/** A Host header safe to echo into a URL: name or address, optional port. */
const HOST_RE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253})(:\d{1,5})?$/;

export interface CoordinatorDeps {
  log: Logger;
  /** A store shared with the caller (tests); when absent, one is made from config and owned here. */
  store?: ClusterStore;
}

/** The coordinator: membership, streams, viewer entry with content steering, dashboard. */
export class Coordinator {
  private readonly log: Logger;
  private readonly store: ClusterStore;
  private readonly ownsStore: boolean;
  private readonly state: CoordinatorState;
  private readonly registry: StreamRegistry;
  /** The cluster's own events, for holders of the cluster secret (relays). */
  private readonly hub: EventHub;
  /** The dashboard's read-only summary stream, open to anyone and capped per address. */
  private readonly dashboardHub: EventHub;
  private readonly dashboard: DashboardFeed;
  private readonly balancer: ViewerBalancer;
  private readonly metrics: CoordinatorMetrics;
  private readonly router = new Router();
  private readonly server: Server;
  private url = '';
  private starting: Promise<{ url: string }> | undefined;
  private closing: Promise<void> | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: CoordinatorConfig,
    deps: CoordinatorDeps,
  ) {
    this.log = deps.log.child({ component: 'coordinator' });
    this.ownsStore = !deps.store;
    this.store =
      deps.store ??
      (config.redisUrl ? new RedisStore({ url: config.redisUrl, log: this.log }) : new MemoryStore());
    this.state = new CoordinatorState(this.store, {
      relayTimeoutMs: config.relayTimeoutMs,
      source: randomUUID(),
      log: this.log,
    });
    this.registry = new StreamRegistry(this.store, { log: this.log, refreshIntervalMs: 500 });
    this.balancer = new ViewerBalancer({
      loadFactor: config.loadFactor,
      sessionTtlMs: config.sessionTtlMs,
      maxSessions: config.maxSessions,
      maxSessionsPerAddress: config.sessionsMaxPerAddress,
    });
    this.metrics = new CoordinatorMetrics({
      ring: () => this.state.ringView(),
      sseClients: () => ({ cluster: this.hub.clientCount, dashboard: this.dashboardHub.clientCount }),
      sessions: () => this.balancer.sessionCount,
      storeAvailable: () => this.store.available,
    });
    // Cluster members hold the secret and one host may run many relays: no per-address cap there.
    this.hub = this.eventHub('cluster', Number.POSITIVE_INFINITY);
    this.dashboardHub = this.eventHub('dashboard', config.eventsMaxPerAddress);
    this.dashboard = new DashboardFeed({
      hub: this.dashboardHub,
      ring: () => this.state.ringView(),
      streams: () => this.state.streamList(),
      intervalMs: 1000,
    });
    this.state.onEvent((e) => {
      if (e.type === 'ring') this.balancer.setRelays(e.data.relays);
      if (e.type === 'segment') this.dashboard.onSegment(e.data);
      this.hub.broadcast(e.type, e.data);
    });
    this.addRoutes();
    this.server = createServer((req, res) => void this.onRequest(req, res));
  }

  /** Connects the store, starts the sweeper and listens; resolves with the base URL. */
  start(): Promise<{ url: string }> {
    this.starting ??= (async () => {
      await this.store.start();
      if (this.store instanceof RedisStore)
        this.store.setRestoreSource(() => ({
          ...this.state.snapshotForRestore(),
          registrations: this.registry.snapshotForRestore(),
        }));
      await this.state.start();
      await this.registry.start();
      this.balancer.setRelays(this.state.ringView().relays);
      this.expiryTimer = setInterval(() => this.balancer.expire(Date.now()), 5000);
      this.expiryTimer.unref();
      const bound = await listen(this.server, this.config.port, this.config.host);
      // A wildcard bind is not an address a viewer can use; advertise loopback instead.
      this.url = bound.replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//127.0.0.1:');
      return { url: this.url };
    })();
    return this.starting;
  }

  /** Stops intake, ends SSE streams, closes the server and (if owned) the store. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.starting?.catch(() => undefined);
      clearInterval(this.expiryTimer);
      this.state.close();
      this.registry.close();
      this.hub.closeAll();
      this.dashboard.close();
      this.dashboardHub.closeAll();
      await closeServer(this.server);
      this.server.closeAllConnections();
      if (this.ownsStore) await this.store.close();
    })();
    return this.closing;
  }

  private clientAddress(req: IncomingMessage): string {
    return clientAddressKey(req, this.config.trustedProxies);
  }

  private eventHub(view: string, maxPerAddress: number): EventHub {
    return new EventHub({
      view,
      maxSubscribers: this.config.eventsMaxSubscribers,
      maxPerAddress,
      addressOf: (req) => this.clientAddress(req),
      maxBufferedBytes: this.config.eventsMaxBufferedBytes,
      stallTimeoutMs: this.config.eventsStallTimeoutMs,
      log: this.log,
      onDrop: (reason) => this.metrics.sseDropped.inc({ view, reason }),
      onRefuse: () => this.metrics.sseRefused.inc({ view }),
    });
  }

  /**
   * The base URL a viewer reached us by: the configured one, else the request's Host (so a viewer on
   * another machine gets a steering URI it can reach), else the bound address.
   */
  private publicUrl(req: IncomingMessage): string {
    if (this.config.publicUrl) return this.config.publicUrl; // trimmed by the config loader
    const host = req.headers.host;
    return host && HOST_RE.test(host) ? `http://${host}` : this.url;
  }

  private addRoutes(): void {
    const { state, store, hub, metrics, balancer, dashboard } = this;
    addApiRoutes(this.router, {
      state,
      store,
      hub,
      dashboard,
      metrics,
      clusterSecret: this.config.clusterSecret,
      heartbeatIntervalMs: this.config.heartbeatIntervalMs,
    });
    addStreamKeyRoutes(this.router, {
      registry: this.registry,
      state,
      store,
      metrics,
      clusterSecret: this.config.clusterSecret,
      log: this.log,
    });
    addViewerRoutes(this.router, {
      state,
      balancer,
      metrics,
      steeringTtlSeconds: this.config.steeringTtlSeconds,
      clientAddress: (req) => this.clientAddress(req),
      publicUrl: (req) => this.publicUrl(req),
    });
    this.addSiteRoutes();
  }

  /** Health, metrics, dashboard and player files. */
  private addSiteRoutes(): void {
    const { state, store, metrics } = this;
    this.router.add('GET', '/healthz', ({ res }) => {
      const ring = state.ringView();
      sendJson(res, 200, {
        status: store.available ? 'ok' : 'degraded',
        store: { kind: store instanceof RedisStore ? 'redis' : 'memory', available: store.available },
        ringVersion: ring.version,
        relays: ring.relays.length,
        streams: state.streamList().length,
      });
    });
    this.router.add('GET', '/metrics', ({ res }) => sendMetrics(res, metrics.registry));
    this.router.add('GET', '/', ({ req, res }) =>
      sendStaticFile(res, DASHBOARD_FILE, { head: req.method === 'HEAD' }),
    );
    this.router.add('GET', '/player/hls.min.js', ({ req, res }) =>
      sendStaticFile(res, HLS_JS_FILE, { head: req.method === 'HEAD' }),
    );
    this.router.add('GET', '/player/*', ({ req, res, rest, query }) => {
      if (rest === '' && !req.url?.startsWith('/player/')) {
        // Relative links in the player page need the trailing slash; the query (?stream=…) stays.
        const q = query.toString();
        res.writeHead(301, { location: `/player/${q ? `?${q}` : ''}` }).end();
        return;
      }
      return sendStaticFile(res, resolveStaticPath(this.config.playerDir, rest), {
        head: req.method === 'HEAD',
      });
    });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const log = this.log.child({ method: req.method, path: req.url });
    try {
      if (this.closing) throw new RingcastError('RC_SHUTTING_DOWN');
      // The raw path, not WHATWG-normalised: `%2e%2e` must reach validation and fail, not resolve away.
      const raw = req.url ?? '/';
      const q = raw.indexOf('?');
      const pathname = q < 0 ? raw : raw.slice(0, q);
      if (!pathname.startsWith('/')) throw new RingcastError('RC_BAD_PATH');
      await this.router.handle(req, res, pathname, new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)));
    } catch (err) {
      // The unread rest of an over-large body leaves the connection unusable (it is reset once the
      // answer is out): say so, or a keep-alive client sends its next request into the reset.
      if (err instanceof RingcastError && err.code === 'RC_BODY_TOO_LARGE' && !res.headersSent)
        res.setHeader('connection', 'close');
      sendError(res, err, log);
    }
  }
}

/** The STYLE.md entry point for tests and the CLI: a coordinator, not yet started. */
export function buildApp(config: CoordinatorConfig, deps: CoordinatorDeps): Coordinator {
  return new Coordinator(config, deps);
}
