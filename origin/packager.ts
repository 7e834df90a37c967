import { createHash } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../common/log.ts';
import { segmentFileName } from '../common/names.ts';
import { BoxSplitter, parseMoov, type TopBox, type TrackInfo } from './box-parser.ts';
import { parseMoof } from './moof-parser.ts';
import type { InitSection, Part, PartialState, PublishedSegment } from './segment-types.ts';
import type { StreamClock } from './stream-clock.ts';

export interface PackagerOptions {
  streamId: string;
  rendition: string;
  /** `<dataDir>/<streamId>/<rendition>`. */
  dir: string;
  windowSegments: number;
  retainSegments: number;
  /** Number of the first segment (default 0). */
  firstMsn?: number;
  log: Logger;
  onInit?: (init: InitSection) => void;
  /** A segment is on disk (announce it). */
  onSegment?: (segment: PublishedSegment) => void;
  /** A part or a segment became visible (wakes blocking requests). */
  onUpdate?: () => void;
}

interface Run {
  id: string;
  clock: StreamClock;
  splitter: BoxSplitter;
  ftyp?: Buffer;
  tracks: TrackInfo[];
  video?: TrackInfo;
  moof?: TopBox;
  /** Fragments of the segment being built. */
  parts: Part[];
  /** Number of the segment being built. */
  msn: number;
  startSeconds: number;
  discontinuity: boolean;
  broken: boolean;
}

/**
 * The origin's packager for one rendition: reads ffmpeg's fMP4 stream, keeps the init section,
 * cuts a segment at each keyframe fragment, numbers segments itself (never backwards, continuing
 * after an encoder restart). A segment becomes visible once complete (served from memory until its
 * file is written atomically, temp file + rename) and is announced once on disk.
 */
export class RenditionPackager {
  readonly rendition: string;
  private readonly opts: PackagerOptions;
  private run: Run | undefined;
  private nextMsn: number;
  private discontinuitySequence: number;
  private runs = 0;
  private writes: Promise<void> = Promise.resolve();
  private readonly window: PublishedSegment[] = [];
  private initSection: InitSection | undefined;
  private ended = false;
  private maxDuration = 0;

  constructor(opts: PackagerOptions) {
    this.opts = opts;
    this.rendition = opts.rendition;
    this.nextMsn = opts.firstMsn ?? 0;
    // From 0, not from the clock-based first number: with a discontinuity sequence near 1.8e9, hls.js
    // 1.7 in Chromium stopped playing after its first segment (the e2e player tests). A restarted
    // origin starts it at 0 again; players take a lower value with a jump in segment numbers as a new
    // timeline (hls.js re-bases it), and keeping it across restarts is the origin's stream state.
    this.discontinuitySequence = 0;
  }

  /** Starts a transcoder run; fragments of older runs are ignored from now on. */
  beginRun(id: string, clock: StreamClock): void {
    this.endRun(this.run?.id);
    this.ended = false;
    this.run = {
      id,
      clock,
      splitter: new BoxSplitter(),
      tracks: [],
      parts: [],
      msn: 0,
      startSeconds: 0,
      discontinuity: this.runs++ > 0,
      broken: false,
    };
  }

  /** Feeds upload bytes of run `id`. */
  push(id: string, chunk: Buffer): void {
    const run = this.run;
    if (!run || run.id !== id || run.broken) return;
    try {
      for (const box of run.splitter.push(chunk)) this.onBox(run, box);
    } catch (err) {
      // A corrupt stream cannot be resynchronised; the supervisor's stall watchdog restarts ffmpeg.
      run.broken = true;
      this.opts.log.error(
        { err, rendition: this.rendition },
        'fMP4 stream is corrupt; ignoring the rest of this run',
      );
    }
  }

  /** The upload of run `id` ended: the segment being built is complete. */
  endRun(id: string | undefined): void {
    const run = this.run;
    if (!run || run.id !== id) return;
    this.cut(run);
    this.run = undefined;
  }

  /** The publisher is gone for good: the playlist gets #EXT-X-ENDLIST. */
  markEnded(): void {
    this.ended = true;
  }

  /** Waits for pending file writes (and those they queue). */
  async flushed(): Promise<void> {
    let seen: Promise<void> | undefined;
    while (seen !== this.writes) {
      seen = this.writes;
      await seen;
    }
  }

  get init(): InitSection | undefined {
    return this.initSection;
  }

  /** The segments of the playlist window, oldest first. */
  get segments(): readonly PublishedSegment[] {
    return this.window;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Longest segment so far, seconds (for the target duration, which must not shrink). */
  get longestSegmentSeconds(): number {
    return this.maxDuration;
  }

  private onBox(run: Run, box: TopBox): void {
    if (box.type === 'ftyp') run.ftyp = box.data;
    else if (box.type === 'moov') this.onMoov(run, box);
    else if (box.type === 'moof') run.moof = box;
    else if (box.type === 'mdat' && run.moof) {
      const moof = run.moof;
      run.moof = undefined;
      this.onFragment(run, moof, box.data);
    }
  }

  private onMoov(run: Run, moov: TopBox): void {
    run.tracks = parseMoov(moov);
    run.video = run.tracks.find((t) => t.handler === 'vide') ?? run.tracks[0];
    const data = Buffer.concat(run.ftyp ? [run.ftyp, moov.data] : [moov.data]);
    const name = `init-${createHash('sha256').update(data).digest('hex').slice(0, 8)}.mp4`;
    if (this.initSection?.name === name) return;
    const video = run.tracks.find((t) => t.handler === 'vide');
    const init: InitSection = {
      name,
      data,
      tracks: run.tracks,
      codecs: run.tracks
        .map((t) => t.codec)
        .filter(Boolean)
        .join(','),
      width: video?.width,
      height: video?.height,
    };
    this.initSection = init;
    this.enqueueWrite(init.name, data, () => this.opts.onInit?.(init));
  }

  private onFragment(run: Run, moof: TopBox, mdat: Buffer): void {
    const video = run.video;
    if (!video) return;
    const traf = parseMoof(moof, run.tracks).find((t) => t.trackId === video.trackId);
    if (!traf) return;
    const duration = traf.duration / video.timescale;
    const start = traf.baseMediaDecodeTime / video.timescale;
    // A segment must start with a keyframe; before the first one, fragments are useless.
    if (run.parts.length === 0 && !traf.startsWithSync) return;
    if (traf.startsWithSync && run.parts.length > 0) this.cut(run);
    run.clock.observe(start, duration);
    if (run.parts.length === 0) {
      run.startSeconds = start;
      run.msn = this.nextMsn++;
    }
    run.parts.push({ data: Buffer.concat([moof.data, mdat]), duration, independent: traf.startsWithSync });
    this.opts.onUpdate?.();
  }

  /** The segment being built (its parts so far), if any. */
  get partial(): PartialState | undefined {
    const run = this.run;
    if (!run || run.parts.length === 0) return undefined;
    return {
      msn: run.msn,
      parts: run.parts,
      programDateTime: run.clock.at(run.startSeconds),
      discontinuity: run.discontinuity,
    };
  }

  /** The number the next segment will get. */
  get nextSequenceNumber(): number {
    return this.nextMsn;
  }

  /** Bytes of a segment that is visible but not yet on disk. */
  pendingBytes(file: string): Buffer | undefined {
    return this.window.find((s) => s.file === file)?.pending;
  }

  /** Part `index` of segment `msn`, if it is complete and still in memory. */
  part(msn: number, index: number): Part | undefined {
    const run = this.run;
    if (run && run.parts.length > 0 && run.msn === msn) return run.parts[index];
    return this.window.find((s) => s.msn === msn)?.parts[index];
  }

  /** Closes the segment being built: visible at once (served from memory), announced once on disk. */
  private cut(run: Run): void {
    const init = this.initSection;
    if (run.parts.length === 0 || !init) return;
    const parts = run.parts;
    run.parts = [];
    const data = Buffer.concat(parts.map((p) => p.data));
    const discontinuity = run.discontinuity;
    run.discontinuity = false;
    if (discontinuity) this.discontinuitySequence++;
    const msn = run.msn;
    const segment: PublishedSegment = {
      msn,
      file: segmentFileName(msn),
      duration: parts.reduce((sum, p) => sum + p.duration, 0),
      programDateTime: run.clock.at(run.startSeconds),
      discontinuity,
      discontinuitySequence: this.discontinuitySequence,
      size: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
      initName: init.name,
      parts,
      pending: data,
    };
    this.window.push(segment);
    this.maxDuration = Math.max(this.maxDuration, segment.duration);
    while (this.window.length > this.opts.windowSegments) this.window.shift();
    // Parts matter only near the live edge; older segments are served from disk.
    for (const s of this.window.slice(0, -3)) s.parts = [];
    this.opts.onUpdate?.();
    this.enqueueWrite(segment.file, data, () => this.written(segment));
  }

  private written(segment: PublishedSegment): void {
    segment.pending = undefined;
    const expired = segment.msn - this.opts.retainSegments;
    if (expired >= 0) {
      this.writes = this.writes.then(() =>
        rm(join(this.opts.dir, segmentFileName(expired)), { force: true }),
      );
    }
    this.opts.onSegment?.(segment);
  }

  /**
   * Writes a file atomically (temp file + rename), in order with the other writes of this rendition,
   * then runs `then` (publication): nothing is visible before its bytes are on disk.
   */
  private enqueueWrite(file: string, data: Buffer, then: () => void): void {
    const dir = this.opts.dir;
    this.writes = this.writes
      .then(async () => {
        await mkdir(dir, { recursive: true });
        const tmp = join(dir, `.${file}.tmp`);
        await writeFile(tmp, data);
        await rename(tmp, join(dir, file));
        then();
      })
      .catch((err) => {
        this.opts.log.error({ err, file, rendition: this.rendition }, 'segment write failed');
      });
  }
}
