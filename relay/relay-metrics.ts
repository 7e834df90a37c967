import { Counter, Gauge, type Registry } from 'prom-client';
import { createRegistry } from '../common/metrics.ts';

/** Live figures the gauges read when scraped. */
export interface RelayGaugeSource {
  cacheBytes(): number;
  cacheEntries(): number;
  viewersByStream(): Map<string, number>;
  originLinksDown(): number;
  /** Bytes sent with sendfile so far (zero-copy.ts); 0 without zero-copy. */
  zeroCopyBytes(): number;
  /** Requests refused locally so far, by reason (outside_window, too_far_ahead, forged_hop). */
  refused(): Record<string, number>;
}

/** The relay's Prometheus metrics (`ringcast_relay_*`), one registry per Relay instance. */
export class RelayMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'cache'>;
  readonly upstreamFetches: Counter<'source' | 'outcome'>;
  readonly upstreamErrors: Counter<'source' | 'code'>;
  readonly verificationFailures: Counter;
  readonly bytesServed: Counter;
  readonly prefetches: Counter<'source'>;
  /** Same as the bytes-served counter, readable synchronously for heartbeats. */
  bytesServedTotal = 0;
  /** Connections the fast path handed to Node's http (see fast-http.ts). */
  readonly handOffs: Counter;
  /** Object requests by cache result: plain integers on the hot path, moved into `requests` on scrape. */
  readonly requestCounts = { hit: 0, miss: 0, coalesced: 0 };

  constructor(gauges: RelayGaugeSource) {
    this.registry = createRegistry('relay');
    const registers = [this.registry];
    const counts = this.requestCounts;
    const reported = { hit: 0, miss: 0, coalesced: 0 };
    this.requests = new Counter({
      name: 'ringcast_relay_requests_total',
      help: 'Object requests by cache result (hit, miss, coalesced)',
      labelNames: ['cache'],
      registers,
      collect() {
        for (const cache of ['hit', 'miss', 'coalesced'] as const) {
          this.inc({ cache }, counts[cache] - reported[cache]);
          reported[cache] = counts[cache];
        }
      },
    });
    this.upstreamFetches = new Counter({
      name: 'ringcast_relay_upstream_fetches_total',
      help: 'Upstream fetches by source (origin, peer) and outcome (ok, not_found, client_error, error, timeout, bad_status, refused, mismatch, given_up)',
      labelNames: ['source', 'outcome'],
      registers,
    });
    this.upstreamErrors = new Counter({
      name: 'ringcast_relay_upstream_errors_total',
      help: 'Failed upstream fetches by source and error code',
      labelNames: ['source', 'code'],
      registers,
    });
    this.verificationFailures = new Counter({
      name: 'ringcast_relay_verification_failures_total',
      help: 'Peer segments dropped because size or SHA-256 differed from the announcement',
      registers,
    });
    let bytesReported = 0;
    const self = this;
    this.bytesServed = new Counter({
      name: 'ringcast_relay_bytes_served_total',
      help: 'Body bytes sent to viewers and peers',
      registers,
      collect() {
        this.inc(self.bytesServedTotal - bytesReported);
        bytesReported = self.bytesServedTotal;
      },
    });
    let zeroCopyReported = 0;
    new Counter({
      name: 'ringcast_relay_zero_copy_bytes_total',
      help: 'Bytes (heads and bodies) sent with sendfile from memfd regions; the rest of bytes_served was written',
      registers,
      collect() {
        const now = gauges.zeroCopyBytes();
        this.inc(now - zeroCopyReported);
        zeroCopyReported = now;
      },
    });
    this.prefetches = new Counter({
      name: 'ringcast_relay_prefetches_total',
      help: 'Segment fills started by an announcement, by intended source (origin, peer)',
      labelNames: ['source'],
      registers,
    });
    this.handOffs = new Counter({
      name: 'ringcast_relay_fast_path_handoffs_total',
      help: "Viewer connections the raw-socket fast path handed to Node's http (ranges, conditional requests, other paths, unusual syntax)",
      registers,
    });
    const refusedReported: Record<string, number> = {};
    new Counter({
      name: 'ringcast_relay_refused_requests_total',
      help: 'Viewer requests answered locally without an upstream fetch (outside_window, too_far_ahead) or whose hop header was not a ring member token (forged_hop; served as a viewer)',
      labelNames: ['reason'],
      registers,
      collect() {
        for (const [reason, n] of Object.entries(gauges.refused())) {
          this.inc({ reason }, n - (refusedReported[reason] ?? 0));
          refusedReported[reason] = n;
        }
      },
    });
    this.addGauges(gauges, registers);
  }

  /** Counts body bytes sent. */
  served(bytes: number): void {
    // A plain integer per request; the Prometheus counter catches up when scraped.
    this.bytesServedTotal += bytes;
  }

  private addGauges(gauges: RelayGaugeSource, registers: Registry[]): void {
    new Gauge({
      name: 'ringcast_relay_cache_bytes',
      help: 'Bytes held by the cache',
      registers,
      collect() {
        this.set(gauges.cacheBytes());
      },
    });
    new Gauge({
      name: 'ringcast_relay_cache_entries',
      help: 'Objects held by the cache',
      registers,
      collect() {
        this.set(gauges.cacheEntries());
      },
    });
    new Gauge({
      name: 'ringcast_relay_origin_links_down',
      help: 'Origin links taken as broken (breaker open: fills go through ring peers until a probe answers)',
      registers,
      collect() {
        this.set(gauges.originLinksDown());
      },
    });
    new Gauge({
      name: 'ringcast_relay_active_viewers',
      help: 'Distinct viewer sessions seen in the last 10 s, by stream',
      labelNames: ['stream'],
      registers,
      collect() {
        this.reset();
        for (const [stream, n] of gauges.viewersByStream()) this.set({ stream }, n);
      },
    });
  }
}
