import type { RenditionInfo, StreamState } from '../common/types.ts';
import type { LadderRung } from './config.ts';
import type { FfmpegSupervisor, RunEndData } from './ffmpeg-supervisor.ts';
import type { UploadSink } from './ingest-server.ts';
import { type SourceInfo, selectLadder } from './ladder-choice.ts';
import { type LiveStreamOptions, packagerFor, supervisorFor, tsSegmentsFor } from './live-stream-parts.ts';
import { hasReachedOf, isNextPartOf, lastMsnOf, liveEdgeOf, renditionReportOf } from './ll-hls-edge.ts';
import type { RenditionPackager } from './packager.ts';
import {
  masterPlaylistText,
  mediaPlaylistText,
  type RenditionReportState,
  targetDurationFor,
} from './playlist-writer.ts';
import { inputProblem, partTargetFor, renditionInfoOf } from './rendition-info.ts';
import type { Part } from './segment-types.ts';
import { StreamClock } from './stream-clock.ts';
import type { TsSegments } from './ts-segments.ts';
import { Waiters } from './waiters.ts';

export type { LiveStreamOptions } from './live-stream-parts.ts';

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
  private readonly waiters = new Waiters();
  /** LL-HLS PART-TARGET (rendition-info.ts, partTargetFor). */
  readonly partTarget: number;

  constructor(opts: LiveStreamOptions) {
    this.opts = opts;
    this.id = opts.streamId;
    this.active = selectLadder(opts.ladder, opts.input, undefined, opts.log);
    this.ts = opts.segmentFormat === 'ts' ? tsSegmentsFor(opts, () => this.changed()) : undefined;
    this.packagers = new Map(
      opts.ladder.map((r) => [
        r.name,
        packagerFor(opts, r.name, {
          onInit: () => this.checkLive(),
          onSegment: (s) => {
            const init = this.ts && this.packagers.get(r.name)?.init;
            if (init) this.ts?.add(r.name, s, init.data);
            else opts.onSegment?.(r.name, s);
          },
          onUpdate: () => this.changed(),
        }),
      ]),
    );
    this.partTarget = partTargetFor(opts.fps);
    this.supervisor = supervisorFor(opts, {
      ladder: () => this.active,
      source: () => this.source,
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

  /** A part, segment or remux landed: waiting readers re-check, and the stream may now be live. */
  private changed(): void {
    this.waiters.wake();
    this.checkLive();
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
      this.waiters.wake();
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
      return renditionInfoOf(r, { init: p?.init, segments: p?.segments ?? [] }, this.source, this.opts.fps);
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
    return this.active
      .filter((r) => r.name !== rendition)
      .flatMap((r) => {
        const p = this.packagers.get(r.name);
        const report = p && renditionReportOf(r.name, p);
        return report ? [report] : [];
      });
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
    return isNextPartOf(this.packagers.get(rendition), msn, index);
  }

  /** The last part in a rendition's playlist: of the segment being built, else of the last segment. */
  liveEdge(rendition: string): { msn: number; part: number } | undefined {
    return liveEdgeOf(this.packagers.get(rendition));
  }

  /** Last complete segment number of a rendition (-1 before the first). */
  lastMsn(rendition: string): number {
    return lastMsnOf(this.packagers.get(rendition));
  }

  /** True once the playlist of `rendition` has segment `msn` (or its part `part`), or the stream ended. */
  hasReached(rendition: string, msn: number, part?: number): boolean {
    return hasReachedOf(this.packagers.get(rendition), msn, part);
  }

  /** Resolves true once `ready()` holds, false after `timeoutMs` (LL-HLS blocking requests). */
  waitUntil(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    return this.waiters.waitUntil(ready, timeoutMs, () => this.closed);
  }

  hasRendition(name: string): boolean {
    return this.packagers.has(name);
  }

  /** Stops the transcoder (killing its process group) and waits for pending writes. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.endTimer);
    this.waiters.wake();
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
