import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Express } from 'express';
import { addHealthAndMetrics, controlApp, finishControlApp } from '../common/control-app.ts';
import { closeServer, listen } from '../common/http.ts';
import { listenHttps, partServer } from '../common/https-server.ts';
import type { Logger } from '../common/log.ts';
import { PlaybackGate, playbackKeysOf } from '../common/playback-gate.ts';
import { TlsFiles } from '../common/tls-files.ts';
import { apiRoutes } from './api-routes.ts';
import { clientAddressKey } from './client-address.ts';
import type { CoordinatorConfig } from './config.ts';
import { CoordinatorMetrics } from './coordinator-metrics.ts';
import { CoordinatorState } from './coordinator-state.ts';
import { DashboardFeed } from './dashboard-feed.ts';
import { EventHub } from './event-hub.ts';
import { MemoryStore } from './memory-store.ts';
import { advertisedUrl, publicBaseUrl } from './public-url.ts';
import { RedisStore } from './redis-store.ts';
import { closeAfterOversizedBody, mountRoutes, originFormOnly, type RouteSpec } from './route-table.ts';
import { siteRoutes } from './site-routes.ts';
import type { ClusterEvent, ClusterStore } from './store.ts';
import { streamKeyRoutes } from './stream-key-routes.ts';
import { StreamRegistry } from './stream-registry.ts';
import { tokenRoutes } from './token-routes.ts';
import { ViewerBalancer } from './viewer-balancer.ts';
import { viewerRoutes } from './viewer-routes.ts';

export interface CoordinatorDeps {
  log: Logger;
  /** A store shared with the caller (tests); when absent, one is made from config and owned here. */
  store?: ClusterStore;
}

/** Redis when several coordinators share state (docs/architecture.md, "Membership and the store"). */
function storeFor(config: CoordinatorConfig, log: Logger): ClusterStore {
  return config.redisUrl ? new RedisStore({ url: config.redisUrl, log }) : new MemoryStore();
}

function balancerFor(config: CoordinatorConfig): ViewerBalancer {
  return new ViewerBalancer({
    loadFactor: config.loadFactor,
    sessionTtlMs: config.sessionTtlMs,
    maxSessions: config.maxSessions,
    maxSessionsPerAddress: config.sessionsMaxPerAddress,
  });
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
  /** Made at start: with a certificate, the pair is read then (constructors do no I/O). */
  private server: Server | undefined;
  private tls: TlsFiles | undefined;
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
    this.store = deps.store ?? storeFor(config, this.log);
    const source = randomUUID();
    this.state = new CoordinatorState(this.store, {
      relayTimeoutMs: config.relayTimeoutMs,
      source,
      log: this.log,
    });
    this.registry = new StreamRegistry(this.store, { log: this.log, refreshIntervalMs: 500 });
    this.balancer = balancerFor(config);
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
    this.state.onEvent((e) => this.onClusterEvent(e));
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
      this.url = advertisedUrl(await this.listen());
      return { url: this.url };
    })();
    return this.starting;
  }

  /** Plain HTTP, or HTTPS with the configured pair (common/https-server.ts). */
  private listen(): Promise<string> {
    const { tlsCert, tlsKey, port, host } = this.config;
    if (tlsCert) this.tls = new TlsFiles({ certFile: tlsCert, keyFile: tlsKey, log: this.log });
    this.server = partServer(this.controlRoutes(), this.tls);
    return this.tls ? listenHttps(this.server, port, host) : listen(this.server, port, host);
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
      this.tls?.close();
      if (this.server) {
        await closeServer(this.server);
        this.server.closeAllConnections();
      }
      if (this.ownsStore) await this.store.close();
    })();
    return this.closing;
  }

  /** Membership changes rebalance viewers; segments feed the dashboard; relays hear everything. */
  private onClusterEvent(e: ClusterEvent): void {
    if (e.type === 'ring') this.balancer.setRelays(e.data.relays);
    if (e.type === 'segment') this.dashboard.onSegment(e.data);
    this.hub.broadcast(e.type, e.data);
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

  private health(): Record<string, unknown> {
    const ring = this.state.ringView();
    return {
      status: this.store.available ? 'ok' : 'degraded',
      store: { kind: this.store instanceof RedisStore ? 'redis' : 'memory', available: this.store.available },
      ringVersion: ring.version,
      relays: ring.relays.length,
      streams: this.state.streamList().length,
    };
  }

  /** The coordinator's base URL as this request's viewer reaches it. */
  private viewerUrl(req: IncomingMessage): string {
    return publicBaseUrl(this.config.publicUrl, req.headers.host, this.url, this.tls !== undefined);
  }

  /** Every route of the coordinator, as one table (docs/coordinator.md lists them). */
  private routeTable(): RouteSpec[] {
    const { state, store, metrics, config } = this;
    const { clusterSecret } = config;
    const playbackKeys = playbackKeysOf(config);
    return [
      ...apiRoutes({
        state,
        store,
        hub: this.hub,
        dashboard: this.dashboard,
        metrics,
        clusterSecret,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        registry: this.registry,
      }),
      ...streamKeyRoutes({ registry: this.registry, state, store, metrics, clusterSecret, log: this.log }),
      ...tokenRoutes({
        registry: this.registry,
        playbackKeys,
        clusterSecret,
        publicUrl: (req) => this.viewerUrl(req),
      }),
      ...viewerRoutes({
        state,
        balancer: this.balancer,
        metrics,
        steeringTtlSeconds: config.steeringTtlSeconds,
        clientAddress: (req) => this.clientAddress(req),
        publicUrl: (req) => this.viewerUrl(req),
        playback: new PlaybackGate(playbackKeys, this.log),
      }),
      ...siteRoutes({ playerDir: config.playerDir }),
    ];
  }

  /** The express app: shutting-down and path checks first, then the table, then one error shape. */
  private controlRoutes(): Express {
    const app = controlApp({ closing: () => this.closing !== undefined });
    app.use(originFormOnly);
    addHealthAndMetrics(app, { health: () => this.health(), registry: this.metrics.registry });
    mountRoutes(app, this.routeTable());
    app.use(closeAfterOversizedBody);
    finishControlApp(app, this.log);
    return app;
  }
}

/** The STYLE.md entry point for tests and the CLI: a coordinator, not yet started. */
export function buildApp(config: CoordinatorConfig, deps: CoordinatorDeps): Coordinator {
  return new Coordinator(config, deps);
}
