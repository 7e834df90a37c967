import { join } from 'node:path';
import type { RetryPolicy } from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import type { RenditionInfo, StreamState } from '../common/types.ts';
import type { LadderRung } from './config.ts';
import { FfmpegSupervisor, type RunEndData } from './ffmpeg-supervisor.ts';
import type { UploadSink } from './ingest-server.ts';
import { RenditionPackager } from './packager.ts';
import {
  masterPlaylistText,
  mediaPlaylistText,
  type RenditionReportState,
  targetDurationFor,
} from './playlist-writer.ts';
import type { Part, PublishedSegment } from './segment-types.ts';
import { StreamClock } from './stream-clock.ts';
import { type TranscodeInput, transcodeArgs } from './transcode-command.ts';
import { TsSegments } from './ts-segments.ts';

/** The publisher's video as it announced it (RTMP onMetaData); absent when it did not say. */
export interface SourceInfo {
  width: number;
  height: number;
  fps?: number;
  /** FLV codec of the input: `h264`, `aac`, `mp3`, `flv1`, `vp6`, … */
  videoCodec?: string;
  audioCodec?: string;
}

export interface LiveStreamOptions {
  streamId: string;
  ladder: readonly LadderRung[];
  fps: number;
  segmentSeconds: number;
  windowSegments: number;
  retainSegments: number;
  /** Number of every rendition's first segment (default 0; the origin uses Unix seconds, see app.ts). */
  firstMsn?: number;
  /** `<dataDir>/<streamId>`. */
  dir: string;
  endGraceMs: number;
  ffmpegPath: string;
  input: TranscodeInput;
  /** Base URL of the internal ingest server (known once it listens). */
  ingestUrl: () => string;
  retry: RetryPolicy;
  /** Serve LL-HLS (parts, preload hints, blocking reloads). */
  lowLatency: boolean;
  /** `ts`: every segment is also remuxed to MPEG-TS and the media playlists list the `.ts` files. */
  segmentFormat?: 'fmp4' | 'ts';
  log: Logger;
  /** State or renditions changed. */
  onChange?: (stream: LiveStream) => void;
  onSegment?: (rendition: string, segment: PublishedSegment) => void;
  onRunEnd?: (data: RunEndData) => void;
}

/**
 * One live stream: its supervised transcoder, one packager per rendition, and its state
 * (idle → live → ended; a publisher back within the grace period continues the stream).
 */
export class LiveStream {
  readonly id: string;
  private readonly opts: LiveStreamOptions;
  private readonly packagers: Map<string, RenditionPackager>;
  private readonly supervisor: FfmpegSupervisor;
  private stateValue: StreamState = 'idle';
  private reasonValue: string | undefined;
  /** Transcoder runs in a row that ended before any fragment: the input is the problem, not ffmpeg. */
  private failedRuns = 0;
  private progressRunId: string | undefined;
  /** The rungs transcoded for the current source: those above its size are skipped. */
  private active: readonly LadderRung[];
  private source: SourceInfo | undefined;
  /** MPEG-TS copies of the segments (segmentFormat=ts). */
  private readonly ts: TsSegments | undefined;
  private endTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The init sections the last live announcement described (a new one changes the codecs). */
  private announcedInits: unknown[] = [];
  private readonly waiters = new Set<() => void>();
  /**
   * LL-HLS PART-TARGET: ffmpeg cuts a fragment once it holds 200 ms of whole frames; the first fragment
   * of a run is a little longer. 15% headroom covers it and keeps parts above 85% of the target.
   */
  readonly partTarget: number;

  constructor(opts: LiveStreamOptions) {
    this.opts = opts;
    this.id = opts.streamId;
    this.active = selectLadder(opts.ladder, opts.input, undefined, opts.log);
    this.ts =
      opts.segmentFormat === 'ts'
        ? new TsSegments({
            ffmpegPath: opts.ffmpegPath,
            dir: opts.dir,
            windowSegments: opts.windowSegments,
            retainSegments: opts.retainSegments,
            log: opts.log,
            onSegment: (rendition, s) => {
              opts.onSegment?.(rendition, s);
              this.wake();
              this.checkLive();
            },
          })
        : undefined;
    this.packagers = new Map(
      opts.ladder.map((r) => [
        r.name,
        new RenditionPackager({
          streamId: opts.streamId,
          rendition: r.name,
          dir: join(opts.dir, r.name),
          windowSegments: opts.windowSegments,
          retainSegments: opts.retainSegments,
          firstMsn: opts.firstMsn,
          log: opts.log,
          onInit: () => this.checkLive(),
          onSegment: (s) => {
            const init = this.ts && this.packagers.get(r.name)?.init;
            if (init) this.ts?.add(r.name, s, init.data);
            else opts.onSegment?.(r.name, s);
          },
          onUpdate: () => {
            this.wake();
            this.checkLive();
          },
        }),
      ]),
    );
    this.partTarget = Math.ceil((Math.ceil(0.2 * opts.fps - 1e-9) / opts.fps) * 1150) / 1000;
    const targetMs = opts.segmentSeconds * 1000;
    this.supervisor = new FfmpegSupervisor({
      ffmpegPath: opts.ffmpegPath,
      log: opts.log.child({ component: 'ffmpeg' }),
      retry: opts.retry,
      // ~3 target durations without a fragment is a stall; the first one may take longer (connect, probe).
      stallTimeoutMs: Math.max(3 * targetMs, 3000),
      startTimeoutMs: Math.max(5 * targetMs, 15_000),
      buildArgs: (runId) =>
        transcodeArgs({
          input: opts.input,
          ladder: this.active,
          // AAC passes through as is; anything else (MP3, Speex) is re-encoded for the pass-through rung.
          copyAudio: !this.source?.audioCodec || this.source.audioCodec === 'aac',
          fps: opts.fps,
          segmentSeconds: opts.segmentSeconds,
          outputUrl: (rendition) => `${opts.ingestUrl()}/ingest/${runId}/${rendition}`,
        }),
      onRunStart: (runId) => {
        const clock = new StreamClock();
        for (const p of this.packagers.values()) p.beginRun(runId, clock);
      },
      // The uploads end on their own when ffmpeg exits (their last bytes may still be on the way):
      // each upload's end closes its rendition's segment, and the next run's start closes any left.
      onRunEnd: (data) => {
        this.noteRunEnd(data);
        opts.onRunEnd?.(data);
      },
    });
  }

  get state(): StreamState {
    return this.stateValue;
  }

  /** Why the stream is in state `error` (ffmpeg's own words about the input). */
  get reason(): string | undefined {
    return this.stateValue === 'error' ? this.reasonValue : undefined;
  }

  /** The source is there (publisher connected, or the test source): transcode. `source`: its video, if known. */
  sourceStarted(source?: SourceInfo): void {
    if (this.closed) return;
    if (source) {
      this.source = source;
      this.active = selectLadder(this.opts.ladder, this.opts.input, source, this.opts.log);
    }
    clearTimeout(this.endTimer);
    this.endTimer = undefined;
    // Back after it ended: live again through checkLive, as at the first start. A larger picture adds a
    // rung with no segment yet, and a master listing it would send viewers to a playlist that 404s.
    if (this.stateValue === 'ended') this.setState('idle');
    this.supervisor.start();
  }

  /** The publisher left: stop transcoding; end the stream unless it is back within the grace period. */
  sourceStopped(): void {
    if (this.closed) return;
    void this.supervisor.stop();
    clearTimeout(this.endTimer);
    this.endTimer = setTimeout(() => {
      this.endTimer = undefined;
      for (const p of this.packagers.values()) p.markEnded();
      this.wake();
      if (this.stateValue === 'live' || this.stateValue === 'error') this.setState('ended');
    }, this.opts.endGraceMs);
  }

  /** The upload sink for a rendition of the current run; undefined for a stale or unknown one. */
  upload(runId: string, rendition: string): UploadSink | undefined {
    const p = this.packagers.get(rendition);
    if (!p || this.supervisor.currentRunId !== runId) return undefined;
    return {
      data: (chunk) => {
        this.supervisor.noteProgress(runId);
        if (this.progressRunId !== runId) this.noteProgress(runId);
        p.push(runId, chunk);
      },
      end: () => p.endRun(runId),
    };
  }

  /** Each rendition as announced and listed in the master playlist. */
  renditions(): RenditionInfo[] {
    return this.active.map((r) => {
      const p = this.packagers.get(r.name);
      const init = p?.init;
      const measured = measureBitrate(p?.segments ?? []);
      const frameRate = r.copy ? this.source?.fps : this.opts.fps;
      const info: RenditionInfo = {
        name: r.name,
        // Measured over the window once there are segments; before, maxrate + audio + ~10% overhead.
        bandwidth: measured?.peak ?? Math.round((r.videoBitsPerSecond * 1.1 + r.audioBitsPerSecond) * 1.1),
        averageBandwidth:
          measured?.average ?? Math.round((r.videoBitsPerSecond + r.audioBitsPerSecond) * 1.05),
        width: init?.width ?? (r.width || this.source?.width),
        height: init?.height ?? (r.height || this.source?.height),
      };
      if (frameRate) info.frameRate = frameRate;
      if (init?.codecs) info.codecs = init.codecs;
      return info;
    });
  }

  targetDuration(): number {
    const longest = Math.max(0, ...[...this.packagers.values()].map((p) => p.longestSegmentSeconds));
    return targetDurationFor(longest, this.opts.segmentSeconds);
  }

  /** The master playlist once every rendition has a segment; undefined before. */
  masterPlaylist(): string | undefined {
    return this.everyVariantAnswers() ? masterPlaylistText(this.renditions()) : undefined;
  }

  /**
   * True once every active rendition's media playlist lists a complete segment (an LL-HLS part is not
   * enough): before, a player opening the master would get a 404 for some variant and give up.
   */
  private everyVariantAnswers(): boolean {
    if (this.activePackagers().some((p) => p.segments.length === 0 || !p.init)) return false;
    return !this.ts || this.active.every((r) => this.ts!.segments(r.name).length > 0);
  }

  /** A media playlist once it has a segment; undefined before (or for an unknown rendition). */
  mediaPlaylist(rendition: string, skip = false): string | undefined {
    const p = this.packagers.get(rendition);
    if (!p || p.segments.length === 0) return undefined;
    if (this.ts) {
      const segments = this.ts.segments(rendition);
      if (segments.length === 0) return undefined;
      return mediaPlaylistText({ segments, targetDuration: this.targetDuration(), ended: p.isEnded });
    }
    return mediaPlaylistText({
      segments: p.segments,
      targetDuration: this.targetDuration(),
      ended: p.isEnded,
      lowLatency: this.opts.lowLatency
        ? {
            partTarget: this.partTarget,
            partial: p.partial,
            nextMsn: p.nextSequenceNumber,
            segmentSeconds: this.opts.segmentSeconds,
            initName: p.init?.name,
            skip,
            reports: this.renditionReports(rendition),
          }
        : undefined,
    });
  }

  /** LL-HLS EXT-X-RENDITION-REPORT values: the live edge (last part) of every other active rendition. */
  private renditionReports(rendition: string): RenditionReportState[] {
    const out: RenditionReportState[] = [];
    for (const r of this.active) {
      const p = this.packagers.get(r.name);
      if (r.name === rendition || !p || p.segments.length === 0) continue;
      const partial = p.partial;
      const last = p.segments.at(-1)!;
      out.push(
        partial
          ? { uri: `../${r.name}/index.m3u8`, lastMsn: partial.msn, lastPart: partial.parts.length - 1 }
          : {
              uri: `../${r.name}/index.m3u8`,
              lastMsn: last.msn,
              lastPart: last.parts.length > 0 ? last.parts.length - 1 : undefined,
            },
      );
    }
    return out;
  }

  get lowLatency(): boolean {
    return this.opts.lowLatency;
  }

  /** Bytes of a visible segment not yet on disk. */
  memoryFile(rendition: string, file: string): Buffer | undefined {
    return this.packagers.get(rendition)?.pendingBytes(file);
  }

  /** Part `index` of segment `msn`, if complete and in memory. */
  part(rendition: string, msn: number, index: number): Part | undefined {
    return this.packagers.get(rendition)?.part(msn, index);
  }

  /** True when part `index` of segment `msn` is the next part to come (the preload hint). */
  isNextPart(rendition: string, msn: number, index: number): boolean {
    const p = this.packagers.get(rendition);
    if (!p || p.isEnded) return false;
    const partial = p.partial;
    if (partial)
      return (
        (partial.msn === msn && index >= partial.parts.length) || (msn === partial.msn + 1 && index === 0)
      );
    return msn === p.nextSequenceNumber && index === 0;
  }

  /** The last part in a rendition's playlist: of the segment being built, else of the last segment. */
  liveEdge(rendition: string): { msn: number; part: number } | undefined {
    const p = this.packagers.get(rendition);
    const partial = p?.partial;
    if (partial) return { msn: partial.msn, part: partial.parts.length - 1 };
    const last = p?.segments.at(-1);
    return last ? { msn: last.msn, part: Math.max(0, last.parts.length - 1) } : undefined;
  }

  /** Last complete segment number of a rendition (-1 before the first). */
  lastMsn(rendition: string): number {
    return this.packagers.get(rendition)?.segments.at(-1)?.msn ?? -1;
  }

  /** True once the playlist of `rendition` has segment `msn` (or its part `part`), or the stream ended. */
  hasReached(rendition: string, msn: number, part?: number): boolean {
    const p = this.packagers.get(rendition);
    if (!p || p.isEnded || this.lastMsn(rendition) >= msn) return true;
    if (part === undefined) return false;
    const partial = p.partial;
    return (
      partial !== undefined && (partial.msn > msn || (partial.msn === msn && partial.parts.length > part))
    );
  }

  /** Resolves true once `ready()` holds, false after `timeoutMs` (LL-HLS blocking requests). */
  waitUntil(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!ready() && !this.closed) return;
        done(ready());
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(ok);
      };
      this.waiters.add(check);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  hasRendition(name: string): boolean {
    return this.packagers.has(name);
  }

  /** Stops the transcoder (killing its process group) and waits for pending writes. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.endTimer);
    this.wake();
    await this.supervisor.stop();
    await Promise.all([...this.packagers.values()].map((p) => p.flushed()));
    await this.ts?.flushed();
  }

  /**
   * Live (announced, so the coordinator offers the master) only once every variant answers; a later
   * init section (a new run's codecs) is announced again. Runs after every init and every new segment.
   */
  private checkLive(): void {
    if (this.closed || !this.everyVariantAnswers()) return;
    const inits = this.activePackagers().map((p) => p.init);
    const changed = inits.some((init, i) => init !== this.announcedInits[i]);
    this.announcedInits = inits;
    const recovered = this.stateValue === 'error' && this.progressRunId === this.supervisor.currentRunId;
    if (this.stateValue === 'idle' || recovered) this.setState('live');
    else if (changed) this.opts.onChange?.(this);
  }

  private activePackagers(): RenditionPackager[] {
    return this.active.map((r) => this.packagers.get(r.name)!);
  }

  private noteProgress(runId: string): void {
    this.progressRunId = runId;
    this.failedRuns = 0;
    if (this.stateValue === 'error' && this.everyVariantAnswers()) this.setState('live');
  }

  /** Two runs in a row without a fragment: the stream is in error, with ffmpeg's complaint as the reason. */
  private noteRunEnd(data: RunEndData): void {
    if (data.requested || this.progressRunId === data.runId || this.closed) return;
    this.failedRuns++;
    if (this.failedRuns < 2 || this.stateValue === 'ended') return;
    const reason =
      inputProblem(data.stderrTail) ?? `transcoder exited (code ${data.code}, signal ${data.signal})`;
    if (this.stateValue === 'error' && reason === this.reasonValue) return;
    this.reasonValue = reason;
    this.opts.log.error({ reason, exitCode: data.code, signal: data.signal }, 'stream input unusable');
    this.setState('error');
  }

  private setState(state: StreamState): void {
    this.stateValue = state;
    this.opts.log.info({ state, reason: this.reason }, 'stream state');
    this.opts.onChange?.(this);
  }
}

/** The stderr line that says what is wrong with the input, if there is one. */
function inputProblem(stderr: readonly string[]): string | undefined {
  const hint =
    /matches no streams|Stream specifier|Invalid data|not supported|Unsupported|Could not find codec|Decoder .* not found|no video|Connection refused|Input\/output error|timed out/i;
  const line = [...stderr].reverse().find((l) => hint.test(l)) ?? stderr.at(-1);
  if (!line) return undefined;
  const noSuchStream = /Stream specifier '[^']*:v'|\[0:v\].*matches no streams/.test(line);
  return (noSuchStream ? 'input has no video: ' : '') + line.trim().slice(0, 200);
}

/**
 * The rungs to transcode: those larger than the source are skipped (at least the smallest encoded rung
 * stays); a pass-through rung needs an encoded input (not the lavfi test pattern).
 */
export function selectLadder(
  ladder: readonly LadderRung[],
  input: TranscodeInput,
  source: SourceInfo | undefined,
  log?: Logger,
): LadderRung[] {
  let rungs = ladder.filter((r) => !(r.copy && input.kind === 'testsrc'));
  // fMP4 and the CODECS attribute here are H.264: other video cannot pass through, only be transcoded.
  if (source?.videoCodec && source.videoCodec !== 'h264' && rungs.some((r) => r.copy)) {
    log?.warn(
      { videoCodec: source.videoCodec },
      'pass-through rendition skipped: the input video is not H.264',
    );
    rungs = rungs.filter((r) => !r.copy);
  }
  if (source && source.width > 0 && source.height > 0) {
    const fits = (r: LadderRung) => r.copy || (r.width <= source.width && r.height <= source.height);
    const encoded = rungs.filter((r) => !r.copy);
    const smallest = encoded.reduce<LadderRung | undefined>(
      (a, r) => (!a || r.height < a.height ? r : a),
      undefined,
    );
    const kept = rungs.filter((r) => fits(r) || (r === smallest && !encoded.some(fits)));
    const skipped = rungs.filter((r) => !kept.includes(r)).map((r) => r.name);
    if (skipped.length > 0)
      log?.info(
        { skipped, source: `${source.width}x${source.height}` },
        'renditions above the input size skipped',
      );
    rungs = kept;
  }
  return rungs.length > 0 ? rungs : [...ladder.filter((r) => !r.copy)];
}

/** Peak and mean bits per second over the segments in the window. */
function measureBitrate(
  segments: readonly PublishedSegment[],
): { peak: number; average: number } | undefined {
  const whole = segments.filter((s) => s.duration > 0.1);
  if (whole.length === 0) return undefined;
  const peak = Math.max(...whole.map((s) => (s.size * 8) / s.duration));
  const seconds = whole.reduce((a, s) => a + s.duration, 0);
  const bytes = whole.reduce((a, s) => a + s.size, 0);
  return { peak: Math.round(peak), average: Math.round((bytes * 8) / seconds) };
}
