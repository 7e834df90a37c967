import { join } from 'node:path';
import type { RetryPolicy } from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import type { LadderRung } from './config.ts';
import { FfmpegSupervisor, type RunEndData } from './ffmpeg-supervisor.ts';
import { copiesAudio, type SourceInfo } from './ladder-choice.ts';
import type { LiveStream } from './live-stream.ts';
import { RenditionPackager } from './packager.ts';
import type { PublishedSegment } from './segment-types.ts';
import { type TranscodeInput, transcodeArgs } from './transcode-command.ts';
import { TsSegments } from './ts-segments.ts';

/** A live stream's options; the builders below make its parts from them. */
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

/** MPEG-TS copies of each segment (segmentFormat=ts): announced once remuxed. */
export function tsSegmentsFor(opts: LiveStreamOptions, changed: () => void): TsSegments {
  return new TsSegments({
    ffmpegPath: opts.ffmpegPath,
    dir: opts.dir,
    windowSegments: opts.windowSegments,
    retainSegments: opts.retainSegments,
    log: opts.log,
    onSegment: (rendition, s) => {
      opts.onSegment?.(rendition, s);
      changed();
    },
  });
}

/** One rendition's packager; `onSegment` decides where a finished segment goes (announced, or remuxed). */
export function packagerFor(
  opts: LiveStreamOptions,
  rendition: string,
  hooks: { onInit: () => void; onSegment: (s: PublishedSegment) => void; onUpdate: () => void },
): RenditionPackager {
  return new RenditionPackager({
    streamId: opts.streamId,
    rendition,
    dir: join(opts.dir, rendition),
    windowSegments: opts.windowSegments,
    retainSegments: opts.retainSegments,
    firstMsn: opts.firstMsn,
    log: opts.log,
    ...hooks,
  });
}

/**
 * The supervised transcoder. Its arguments are built at each run's start from the rungs and source of
 * that moment: a reconnect may bring a different picture or audio codec.
 */
export function supervisorFor(
  opts: LiveStreamOptions,
  now: {
    ladder: () => readonly LadderRung[];
    source: () => SourceInfo | undefined;
    onRunStart: (runId: string) => void;
    onRunEnd: (data: RunEndData) => void;
  },
): FfmpegSupervisor {
  const targetMs = opts.segmentSeconds * 1000;
  return new FfmpegSupervisor({
    ffmpegPath: opts.ffmpegPath,
    log: opts.log.child({ component: 'ffmpeg' }),
    retry: opts.retry,
    // ~3 target durations without a fragment is a stall; the first one may take longer (connect, probe).
    stallTimeoutMs: Math.max(3 * targetMs, 3000),
    startTimeoutMs: Math.max(5 * targetMs, 15_000),
    buildArgs: (runId) =>
      transcodeArgs({
        input: opts.input,
        ladder: now.ladder(),
        copyAudio: copiesAudio(now.source()),
        fps: opts.fps,
        segmentSeconds: opts.segmentSeconds,
        outputUrl: (rendition) => `${opts.ingestUrl()}/ingest/${runId}/${rendition}`,
      }),
    onRunStart: now.onRunStart,
    onRunEnd: now.onRunEnd,
  });
}
