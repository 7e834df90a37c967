import HLS from 'hls-parser';
import { parseMaster } from './master.ts';
import { SteeringFollower } from './steering.ts';

/** What one simulated viewer saw. */
export interface ReaderStats {
  segments: number;
  bytes: number;
  errors: number;
  /** Relay id → segments served by it. */
  relays: Map<string, number>;
  cache: Map<string, number>;
  /** Time to the response headers of each segment. */
  ttfbMs: number[];
  /** Time to the whole body of each segment. */
  segmentMs: number[];
  /** Bytes per relay id. */
  relayBytes: Map<string, number>;
  /** Times the simulated playhead ran out of media, and for how long in all. */
  stalls: number;
  stallMs: number;
  lastError?: string;
}

/**
 * A player's buffer: playback starts with the first segment and runs in real time; a segment that
 * arrives after the playhead reached the end of the buffered media was a stall.
 */
class PlayheadModel {
  private startedAt: number | undefined;
  private bufferedSec = 0;
  private stalledSec = 0;

  constructor(private readonly stats: ReaderStats) {}

  arrived(durationSec: number, now = performance.now()): void {
    if (this.startedAt === undefined) this.startedAt = now;
    const played = (now - this.startedAt) / 1000 - this.stalledSec;
    if (played > this.bufferedSec + 0.05) {
      this.stats.stalls++;
      this.stats.stallMs += (played - this.bufferedSec) * 1000;
      this.stalledSec += played - this.bufferedSec;
    }
    this.bufferedSec += durationSec;
  }

  /** At the end of a run: a playhead past the buffer now is a stall still going on. */
  finish(now = performance.now()): void {
    if (this.startedAt === undefined) return;
    const played = (now - this.startedAt) / 1000 - this.stalledSec;
    if (played > this.bufferedSec + 0.05) {
      this.stats.stalls++;
      this.stats.stallMs += (played - this.bufferedSec) * 1000;
    }
  }
}

export interface HlsReaderOptions {
  /** Master playlist URL (coordinator or relay). */
  masterUrl: string;
  /** Index of the variant to read (default: the last, usually the smallest). */
  variant?: number;
  signal: AbortSignal;
  /** Reads the master again after an error (players without steering support do not). */
  refetchMasterOnError?: boolean;
  /** Longest wait for a playlist or segment before it counts as failed (default 8000; the player demo's hls.js uses 4000). */
  requestTimeoutMs?: number;
}

/** The viewer's place in a live stream: its variant and, with content steering, the pathway it follows. */
class PlaylistSource {
  private variant: HLS.types.Variant | undefined;
  private steering: SteeringFollower | undefined;
  private fixedUri: string | undefined;
  pathway: string | undefined;

  constructor(private readonly opts: HlsReaderOptions) {}

  async url(): Promise<string> {
    if (!this.variant) await this.load();
    if (!this.steering) return this.fixedUri!;
    await this.steering.refresh().catch(() => {});
    const { uri, pathway } = this.steering.variantUri(this.variant!);
    this.pathway = pathway;
    return uri;
  }

  failed(): void {
    if (this.steering && this.pathway) this.steering.penalise(this.pathway);
    else if (this.opts.refetchMasterOnError) this.variant = undefined;
  }

  private async load(): Promise<void> {
    const { masterUrl } = this.opts;
    const res = await fetch(masterUrl, { signal: AbortSignal.timeout(8000) });
    if (!res.ok) throw new Error(`master ${masterUrl}: ${res.status}`);
    const master = parseMaster(await res.text());
    const variants = master.variants;
    if (!master.isMasterPlaylist || variants.length === 0) throw new Error('no variants in master');
    this.variant = variants[this.opts.variant ?? variants.length - 1] ?? variants[variants.length - 1]!;
    this.fixedUri = new URL(this.variant.uri, masterUrl).toString();
    this.steering = master.contentSteering ? new SteeringFollower(master, masterUrl) : undefined;
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

async function fetchBody(
  url: string,
  stats: ReaderStats,
  timed: boolean,
  timeoutMs: number,
): Promise<Buffer> {
  const started = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const ttfb = performance.now() - started;
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  const len = res.headers.get('content-length');
  if (len !== null && Number(len) !== body.length) throw new Error(`short body for ${url}`);
  if (timed) {
    stats.ttfbMs.push(ttfb);
    stats.segmentMs.push(performance.now() - started);
  }
  const relay = res.headers.get('x-ringcast-relay');
  if (relay) {
    stats.relays.set(relay, (stats.relays.get(relay) ?? 0) + 1);
    stats.relayBytes.set(relay, (stats.relayBytes.get(relay) ?? 0) + body.length);
  }
  const cache = res.headers.get('x-ringcast-cache');
  if (cache) stats.cache.set(cache, (stats.cache.get(cache) ?? 0) + 1);
  return body;
}

function emptyStats(): ReaderStats {
  return {
    segments: 0,
    bytes: 0,
    errors: 0,
    relays: new Map(),
    cache: new Map(),
    ttfbMs: [],
    segmentMs: [],
    relayBytes: new Map(),
    stalls: 0,
    stallMs: 0,
  };
}

/** Where a player joining a live playlist starts: two segments behind the newest, as hls.js does. */
export function joinMsn(mediaSequenceBase: number | undefined, newestMsn: number | undefined): number {
  return Math.max(mediaSequenceBase ?? 0, (newestMsn ?? 0) - 2);
}

/** One viewer's progress through a live rendition: the next segment it wants and the init it has. */
class LiveReader {
  readonly stats = emptyStats();
  private readonly playhead = new PlayheadModel(this.stats);
  private readonly source: PlaylistSource;
  private readonly timeoutMs: number;
  private nextMsn = -1;
  private initUri = '';

  constructor(private readonly opts: HlsReaderOptions) {
    this.source = new PlaylistSource(opts);
    this.timeoutMs = opts.requestTimeoutMs ?? 8000;
  }

  /** Reloads the playlist and reads each new segment; resolves with the wait before the next reload (none at the end). */
  async reload(): Promise<number | undefined> {
    const playlistUrl = await this.source.url();
    const res = await fetch(playlistUrl, { signal: AbortSignal.timeout(this.timeoutMs) });
    if (!res.ok) throw new Error(`playlist ${playlistUrl}: ${res.status}`);
    const pl = HLS.parse(await res.text()) as HLS.types.MediaPlaylist;
    const segs = pl.segments;
    if (this.nextMsn < 0) this.nextMsn = joinMsn(pl.mediaSequenceBase, segs.at(-1)?.mediaSequenceNumber);
    for (const seg of segs) {
      if (this.opts.signal.aborted || seg.mediaSequenceNumber < this.nextMsn) continue;
      await this.readSegment(seg, playlistUrl);
    }
    return pl.endlist ? undefined : ((pl.targetDuration ?? 2) * 1000) / 2;
  }

  failed(err: unknown): void {
    this.stats.errors++;
    this.stats.lastError = err instanceof Error ? err.message : String(err);
    this.source.failed();
  }

  finish(): ReaderStats {
    this.playhead.finish();
    return this.stats;
  }

  private async readSegment(seg: HLS.types.Segment, playlistUrl: string): Promise<void> {
    const map = seg.map?.uri;
    if (map && map !== this.initUri) {
      await fetchBody(new URL(map, playlistUrl).toString(), this.stats, false, this.timeoutMs);
      this.initUri = map;
    }
    const body = await fetchBody(new URL(seg.uri, playlistUrl).toString(), this.stats, true, this.timeoutMs);
    this.playhead.arrived(seg.duration);
    this.stats.segments++;
    this.stats.bytes += body.length;
    this.nextMsn = seg.mediaSequenceNumber + 1;
  }
}

/** Reads a live HLS stream like a player: reloads the playlist, fetches each new segment once. */
export async function readHls(opts: HlsReaderOptions): Promise<ReaderStats> {
  const reader = new LiveReader(opts);
  while (!opts.signal.aborted) {
    try {
      const waitMs = await reader.reload();
      if (waitMs === undefined) break;
      await sleep(waitMs, opts.signal);
    } catch (err) {
      if (opts.signal.aborted) break;
      reader.failed(err);
      await sleep(200, opts.signal);
    }
  }
  return reader.finish();
}
