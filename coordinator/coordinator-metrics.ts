import { Counter, Gauge, type Registry } from 'prom-client';
import { createRegistry } from '../common/metrics.ts';
import type { RingView } from '../common/types.ts';

/** What the gauges read at scrape time. */
export interface MetricsSources {
  ring: () => RingView;
  sseClients: () => number;
  sessions: () => number;
  storeAvailable: () => boolean;
}

/** The coordinator's Prometheus metrics (`ringcast_coordinator_*`). */
export class CoordinatorMetrics {
  readonly registry: Registry;
  readonly sessionsAssigned: Counter;
  readonly segmentAnnouncements: Counter;

  constructor(src: MetricsSources) {
    const registry = createRegistry('coordinator');
    this.registry = registry;
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
    new Gauge({
      name: 'ringcast_coordinator_ring_version',
      help: 'Current ring version',
      registers: [registry],
      collect() {
        this.set(src.ring().version);
      },
    });
    new Gauge({
      name: 'ringcast_coordinator_sse_clients',
      help: 'Open /api/v1/events streams',
      registers: [registry],
      collect() {
        this.set(src.sseClients());
      },
    });
    new Gauge({
      name: 'ringcast_coordinator_viewer_sessions',
      help: 'Viewer sessions seen within the session TTL',
      registers: [registry],
      collect() {
        this.set(src.sessions());
      },
    });
    new Gauge({
      name: 'ringcast_coordinator_store_up',
      help: '1 when the state store is reachable',
      registers: [registry],
      collect() {
        this.set(src.storeAvailable() ? 1 : 0);
      },
    });
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
  }
}
