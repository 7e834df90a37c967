import { Counter, Gauge, type Registry } from 'prom-client';
import { createRegistry } from '../common/metrics.ts';
import type { RingView } from '../common/types.ts';

/** What the gauges read at scrape time. */
export interface MetricsSources {
  ring: () => RingView;
  /** Open streams per view (`cluster`, `dashboard`). */
  sseClients: () => Record<string, number>;
  sessions: () => number;
  storeAvailable: () => boolean;
}

/** The coordinator's Prometheus metrics (`ringcast_coordinator_*`); gauges are read when scraped. */
export class CoordinatorMetrics {
  readonly registry: Registry;
  readonly sessionsAssigned: Counter;
  readonly sessionsNotRemembered: Counter;
  readonly sseDropped: Counter<'view' | 'reason'>;
  readonly sseRefused: Counter<'view'>;
  readonly segmentAnnouncements: Counter;
  readonly publishAuth: Counter<'result'>;

  constructor(src: MetricsSources) {
    const registry = createRegistry('coordinator');
    this.registry = registry;
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name: `ringcast_coordinator_${name}`,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    new Gauge({
      name: 'ringcast_coordinator_relays',
      help: 'Relays in the ring, by state',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const relays = src.ring().relays;
        for (const state of ['active', 'draining']) {
          this.set({ state }, relays.filter((r) => r.state === state).length);
        }
      },
    });
    gauge('ring_version', 'Current ring version', () => src.ring().version);
    new Gauge({
      name: 'ringcast_coordinator_sse_clients',
      help: 'Open event streams, by view (cluster: /api/v1/events; dashboard: /api/v1/dashboard/events)',
      labelNames: ['view'],
      registers: [registry],
      collect() {
        for (const [view, n] of Object.entries(src.sseClients())) this.set({ view }, n);
      },
    });
    this.sseDropped = new Counter({
      name: 'ringcast_coordinator_sse_dropped_total',
      help: 'Event subscribers dropped because they stopped reading, by view and reason (buffer, stalled)',
      labelNames: ['view', 'reason'],
      registers: [registry],
    });
    this.sseRefused = new Counter({
      name: 'ringcast_coordinator_sse_refused_total',
      help: 'Event subscriptions refused with 429 (per-address or total cap), by view',
      labelNames: ['view'],
      registers: [registry],
    });
    this.sessionsNotRemembered = new Counter({
      name: 'ringcast_coordinator_sessions_not_remembered_total',
      help: 'Viewer requests placed without remembering the session (per-address or total session bound)',
      registers: [registry],
    });
    gauge('viewer_sessions', 'Viewer sessions seen within the session TTL', src.sessions);
    gauge('store_up', '1 when the state store is reachable', () => (src.storeAvailable() ? 1 : 0));
    this.sessionsAssigned = new Counter({
      name: 'ringcast_coordinator_sessions_assigned_total',
      help: 'Viewer sessions placed on a relay (new, or moved because their relay left)',
      registers: [registry],
    });
    this.segmentAnnouncements = new Counter({
      name: 'ringcast_coordinator_segment_announcements_total',
      help: 'Segment announcements accepted from origins',
      registers: [registry],
    });
    this.publishAuth = new Counter({
      name: 'ringcast_coordinator_publish_auth_total',
      help: 'Publish-auth answers to origins, by result (accepted, refused)',
      labelNames: ['result'],
      registers: [registry],
    });
  }
}
