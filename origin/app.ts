import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinatorBases } from '../common/coordinator-bases.ts';
import { closeServer, listen, type RetryPolicy } from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import { TlsFiles } from '../common/tls-files.ts';
import type { StreamInfo, StreamState } from '../common/types.ts';
import { Announcer } from './announcer.ts';
import type { OriginConfig } from './config.ts';
import { createOriginHandler } from './http-server.ts';
import { IngestServer } from './ingest-server.ts';
import { CoordinatorKeyChecks, refusalLabel } from './key-checks.ts';
import { LiveStream } from './live-stream.ts';
import { OriginMetrics } from './origin-metrics.ts';
import { RtmpIngest } from './rtmp-ingest.ts';
import { RtmpsListener } from './rtmps-listener.ts';
import { segmentAnnouncement, streamOptionsFor } from './stream-options.ts';

export interface OriginDeps {
  log: Logger;
}

/** What start resolves with: the public URL, the RTMP URL (`rtmp://…/live`) and, with a certificate, RTMPS's. */
export interface OriginAddresses {
  url: string;
  rtmpUrl: string;
  rtmpsUrl?: string;
}

const ANNOUNCE_RETRY: RetryPolicy = { maxNumRetry: 6, retryDelayMs: 250, maxRetryDelayMs: 5000 };

/**
 * The origin: RTMP ingest with a key check, one supervised ffmpeg per live stream, its own packager
 * and playlists, HTTP serving, and announcements to the coordinator. The constructor does no I/O.
 */
export class Origin {
  readonly metrics = new OriginMetrics();
  private readonly config: OriginConfig;
  private readonly log: Logger;
  private readonly streams = new Map<string, LiveStream>();
  private server: Server | undefined;
  private ingest: IngestServer | undefined;
  private rtmp: RtmpIngest | undefined;
  private rtmps: RtmpsListener | undefined;
  private tls: TlsFiles | undefined;
  private announcer: Announcer | undefined;
  private starting: Promise<OriginAddresses> | undefined;
  private closing: Promise<void> | undefined;
  private dataDir = '';
  private ownsDataDir = false;
  private originUrl = '';
  private keyRecheck: NodeJS.Timeout | undefined;
  private readonly coordinators: CoordinatorBases;
  private readonly keys: CoordinatorKeyChecks;

  constructor(config: OriginConfig, deps: OriginDeps) {
    this.config = config;
    this.log = deps.log.child({ part: 'origin' });
    this.coordinators = new CoordinatorBases(config.coordinatorUrl);
    this.keys = new CoordinatorKeyChecks({
      coordinators: this.coordinators,
      clusterSecret: config.clusterSecret,
      ownStreamId: config.streamId,
      ownKey: config.streamKey,
    });
  }

  /** Starts every server (idempotent); resolves with the public URL and the RTMP (and RTMPS) URLs. */
  start(): Promise<OriginAddresses> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  /** Stops intake, kills every ffmpeg, waits for pending writes, then closes the servers (idempotent). */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  /** The live stream of `streamId`, for tests and tooling. */
  stream(streamId: string): LiveStream | undefined {
    return this.streams.get(streamId);
  }

  /** The NMS path the transcoder of `streamId` pulls (`/live/<path>`), for tests and tooling. */
  rtmpInputPath(streamId: string): string | undefined {
    return this.rtmp?.inputPathOf(streamId);
  }

  /** Where segments are written. */
  get dataDirectory(): string {
    return this.dataDir;
  }

  private async doStart(): Promise<OriginAddresses> {
    const c = this.config;
    this.ownsDataDir = !c.dataDir;
    this.dataDir = c.dataDir || mkdtempSync(join(tmpdir(), 'ringcast-origin-'));
    // Segment numbers restart with the process: files of an earlier run must not be served as new ones.
    await rm(join(this.dataDir, c.streamId), { recursive: true, force: true });
    await this.startIngest();
    const bound = await this.startHttp();
    const url = c.publicUrl || bound; // trimmed by the config loader
    this.startAnnouncer();
    this.originUrl = url;
    // The configured stream: the test pattern, or the --stream-key publisher.
    const own = c.source === 'testsrc' || c.streamKey ? this.streamFor(c.streamId) : undefined;
    const rtmpPort = await this.startRtmp();
    if (c.source === 'testsrc') own?.sourceStarted();
    if (this.coordinators.size > 0) {
      // Only a clear verdict drops a live publisher (key-checks.ts).
      const recheck = () =>
        this.keys.recheck(this.rtmp?.liveKeys() ?? [], (streamId) =>
          this.rtmp?.disconnect(streamId, 'its key was revoked or rotated'),
        );
      this.keyRecheck = setInterval(() => void recheck(), c.keyRecheckMs);
      this.keyRecheck.unref();
    }
    const rtmpsPort = await this.startRtmps();
    const rtmpHost = new URL(bound).hostname;
    return {
      url,
      rtmpUrl: `rtmp://${rtmpHost}:${rtmpPort}/live`,
      ...(rtmpsPort ? { rtmpsUrl: `rtmps://${rtmpHost}:${rtmpsPort}/live` } : {}),
    };
  }

  /** RTMPS (with tlsCert): TLS connections go to the same RTMP ingest; resolves with the port, 0 when off. */
  private async startRtmps(): Promise<number> {
    const c = this.config;
    if (!c.tlsCert) return 0;
    const log = this.log.child({ component: 'rtmps' });
    this.tls = new TlsFiles({ certFile: c.tlsCert, keyFile: c.tlsKey, log });
    this.rtmps = new RtmpsListener({
      host: c.host,
      port: c.rtmpsPort,
      tls: this.tls,
      log,
      onSocket: (socket) => this.rtmp?.accept(socket),
      onRefused: (reason) => this.metrics.rtmpRejected.inc({ reason }),
    });
    return this.rtmps.start();
  }

  /** The internal server ffmpeg PUTs its fMP4 to: each upload carries its run's id, only that stream takes it. */
  private async startIngest(): Promise<void> {
    const ingest = new IngestServer(this.log.child({ component: 'ingest' }), (runId, rendition) => {
      for (const s of this.streams.values()) {
        const sink = s.upload(runId, rendition);
        if (sink) return sink;
      }
      return undefined;
    });
    this.ingest = ingest;
    await ingest.start();
  }

  /** The public HTTP server; resolves with the address to hand out. */
  private async startHttp(): Promise<string> {
    const c = this.config;
    this.server = createServer(
      createOriginHandler({
        streams: this.streams,
        dataDir: this.dataDir,
        metrics: this.metrics,
        log: this.log,
        closing: () => this.closing !== undefined,
      }),
    );
    // A wildcard bind is no address to hand out: say 127.0.0.1 unless publicUrl says better.
    return (await listen(this.server, c.port, c.host)).replace(/\/\/(0\.0\.0\.0|\[::\])/, '//127.0.0.1');
  }

  private startAnnouncer(): void {
    if (this.coordinators.size === 0) return;
    this.announcer = new Announcer({
      coordinatorUrl: this.coordinators.order(),
      secret: this.config.clusterSecret,
      log: this.log.child({ component: 'announcer' }),
      retry: ANNOUNCE_RETRY,
      intervalMs: this.config.announceIntervalMs,
    });
    this.announcer.start();
  }

  /** RTMP ingest: keys asked of the coordinators when there are any; resolves with the bound port. */
  private startRtmp(): Promise<number> {
    const c = this.config;
    this.rtmp = new RtmpIngest({
      host: c.host,
      port: c.rtmpPort,
      streamKey: c.streamKey,
      streamId: c.streamId,
      acceptPublishers: c.source === 'rtmp',
      authorize: this.coordinators.size > 0 ? (key) => this.keys.authorize(key) : undefined,
      log: this.log.child({ component: 'rtmp' }),
      onPublishStart: (p) => void this.publishStarted(p.streamId),
      onPublishEnd: (p) => this.streams.get(p.streamId)?.sourceStopped(),
      onRefused: (reason) => this.metrics.publishRefused.inc({ reason: refusalLabel(reason) }),
      onRejected: (reason) => this.metrics.rtmpRejected.inc({ reason }),
    });
    return this.rtmp.start();
  }

  /** A publisher is live: learn its size (renditions above it are skipped), then transcode. */
  private async publishStarted(streamId: string): Promise<void> {
    const source = await this.rtmp?.sourceOf(streamId);
    if (!this.rtmp?.publishing(streamId) || this.closing) return;
    if (!source)
      this.log.info({ stream: streamId }, 'publisher sent no video size (onMetaData): full ladder');
    this.streamFor(streamId).sourceStarted(source);
  }

  /** The stream `streamId`, made on its first publisher (own transcoder, packagers, playlists). */
  private streamFor(streamId: string): LiveStream {
    let stream = this.streams.get(streamId);
    if (!stream) {
      // Files of an earlier process must not be served as new ones (numbers below are clock-based).
      if (streamId !== this.config.streamId)
        rmSync(join(this.dataDir, streamId), { recursive: true, force: true });
      stream = this.createStream(this.originUrl, streamId);
      this.streams.set(streamId, stream);
    }
    return stream;
  }

  /** A live stream wired to the origin: its segments counted and announced, its state announced. */
  private createStream(originUrl: string, streamId: string): LiveStream {
    const c = this.config;
    return new LiveStream({
      ...streamOptionsFor(c, {
        streamId,
        dataDir: this.dataDir,
        // NMS files each publish under a random path of its own (rtmp-ingest.ts): never the key, which
        // would show on ffmpeg's command line.
        rtmpInput: () =>
          `rtmp://127.0.0.1:${this.rtmp?.port ?? c.rtmpPort}/live/${this.rtmp?.inputPathOf(streamId) ?? 'none'}`,
        // Numbered from the wall clock (Unix seconds): a restarted origin never reuses a number that
        // relays, CDNs or browsers hold as an immutable object (unless segments averaged under 1 s).
        firstMsn: Math.floor(Date.now() / 1000),
      }),
      ingestUrl: () => this.ingest?.baseUrl ?? '',
      log: this.log.child({ stream: streamId }),
      onChange: (s) => this.announcer?.stream(this.streamInfo(s, originUrl, s.state)),
      onSegment: (rendition, seg) => {
        this.metrics.segmentsPublished.inc({ stream: streamId, rendition });
        this.announcer?.segment(segmentAnnouncement(streamId, rendition, seg));
      },
      onRunEnd: (d) =>
        this.metrics.ffmpegExits.inc({ stream: streamId, reason: d.requested ? 'stopped' : 'crashed' }),
    });
  }

  private streamInfo(s: LiveStream, originUrl: string, state: StreamState): StreamInfo {
    return {
      id: s.id,
      state,
      originUrl,
      renditions: s.renditions(),
      targetDuration: s.targetDuration(),
      lowLatency: this.config.lowLatency,
      ...(state === 'error' && s.reason ? { reason: s.reason } : {}),
    };
  }

  private async doClose(): Promise<void> {
    const started = await this.starting?.catch(() => undefined);
    clearInterval(this.keyRecheck);
    await this.rtmps?.close();
    this.tls?.close();
    await this.rtmp?.close();
    // An origin that shuts down ends its live streams (sent within the announcer's close grace).
    for (const s of this.streams.values()) {
      if (s.state === 'live' && started) this.announcer?.stream(this.streamInfo(s, started.url, 'ended'));
    }
    await Promise.all([...this.streams.values()].map((s) => s.close()));
    await this.announcer?.close();
    await this.ingest?.close();
    if (this.server) await closeServer(this.server);
    if (this.ownsDataDir && this.dataDir) await rm(this.dataDir, { recursive: true, force: true });
  }
}
