import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RelayInfo, RingView, SegmentAnnouncement, StreamInfo, StreamState } from '../common/types.ts';
import type { EventHub } from './event-hub.ts';

/** What the dashboard draws, and nothing else: no origin URLs, no segment hashes, no stream keys. */
export interface DashboardSummary {
  ring: { version: number; relays: Array<Pick<RelayInfo, 'id' | 'state' | 'url' | 'capacity' | 'load'>> };
  streams: Array<{
    id: string;
    state: StreamState;
    renditions: Array<{ name: string; bandwidth: number; width?: number; height?: number }>;
    lastSegment?: { rendition: string; msn: number; size: number };
  }>;
}

export interface DashboardFeedOptions {
  /** The bounded hub the summaries go out on (`GET /api/v1/dashboard/events`). */
  hub: EventHub;
  ring: () => RingView;
  streams: () => StreamInfo[];
  /** A changed summary goes out at most this often; relay loads change with every heartbeat. */
  intervalMs: number;
}

/**
 * The dashboard's read-only view of the cluster: one `summary` event on connect, then one whenever
 * the summary changed, at most once per interval. Its size follows the cluster, not the event rate.
 */
export class DashboardFeed {
  private readonly lastSegment = new Map<string, { rendition: string; msn: number; size: number }>();
  private lastSent = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: DashboardFeedOptions) {}

  /** Notes a stream's newest segment; only streams the coordinator knows are kept. */
  onSegment(seg: SegmentAnnouncement): void {
    this.lastSegment.set(seg.streamId, { rendition: seg.rendition, msn: seg.msn, size: seg.size });
  }

  /** Subscribes a dashboard (the hub's caps apply) and starts the summaries. */
  add(req: IncomingMessage, res: ServerResponse): void {
    this.opts.hub.add(req, res, [{ event: 'summary', data: this.summary() }]);
    this.timer ??= setInterval(() => this.tick(), this.opts.intervalMs).unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  summary(): DashboardSummary {
    const ring = this.opts.ring();
    const streams = this.opts.streams();
    const known = new Set(streams.map((s) => s.id));
    for (const id of this.lastSegment.keys()) if (!known.has(id)) this.lastSegment.delete(id);
    return {
      ring: {
        version: ring.version,
        relays: ring.relays.map(({ id, state, url, capacity, load }) => ({ id, state, url, capacity, load })),
      },
      streams: streams.map((s) => ({
        id: s.id,
        state: s.state,
        renditions: s.renditions.map(({ name, bandwidth, width, height }) => ({
          name,
          bandwidth,
          width,
          height,
        })),
        lastSegment: this.lastSegment.get(s.id),
      })),
    };
  }

  private tick(): void {
    if (this.opts.hub.clientCount === 0) {
      this.close();
      this.lastSent = '';
      return;
    }
    const summary = this.summary();
    const text = JSON.stringify(summary);
    if (text === this.lastSent) return;
    this.lastSent = text;
    this.opts.hub.broadcast('summary', summary);
  }
}
