import { Counter, type Registry } from 'prom-client';
import { createRegistry } from '../common/metrics.ts';

/** The origin's Prometheus metrics. */
export class OriginMetrics {
  readonly registry: Registry;
  readonly segmentsPublished: Counter<'stream' | 'rendition'>;
  readonly segmentRequests: Counter<'stream' | 'rendition'>;
  readonly bytesServed: Counter<'stream'>;
  readonly ffmpegExits: Counter<'stream' | 'reason'>;
  readonly publishRefused: Counter<'reason'>;
  readonly rtmpRejected: Counter<'reason'>;

  constructor() {
    this.registry = createRegistry('origin');
    this.segmentsPublished = new Counter({
      name: 'ringcast_origin_segments_published_total',
      help: 'Segments finished, written and added to the playlist',
      labelNames: ['stream', 'rendition'],
      registers: [this.registry],
    });
    this.segmentRequests = new Counter({
      name: 'ringcast_origin_segment_requests_total',
      help: 'Media segment GETs served',
      labelNames: ['stream', 'rendition'],
      registers: [this.registry],
    });
    this.bytesServed = new Counter({
      name: 'ringcast_origin_bytes_served_total',
      help: 'Body bytes of /live/ GETs served (segments, parts, init sections, playlists)',
      labelNames: ['stream'],
      registers: [this.registry],
    });
    this.ffmpegExits = new Counter({
      name: 'ringcast_origin_ffmpeg_exits_total',
      help: 'Transcoder exits, by reason (stopped, crashed)',
      labelNames: ['stream', 'reason'],
      registers: [this.registry],
    });
    this.publishRefused = new Counter({
      name: 'ringcast_origin_publish_refused_total',
      help: 'RTMP publishers refused',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.rtmpRejected = new Counter({
      name: 'ringcast_origin_rtmp_rejected_total',
      help: 'RTMP connections closed for what they sent (malformed, message_too_large, bad_command, backoff, idle, play_refused, too_many_connections, not_reading, tls_handshake)',
      labelNames: ['reason'],
      registers: [this.registry],
    });
  }
}
