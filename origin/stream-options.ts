import { join } from 'node:path';
import type { RetryPolicy } from '../common/http.ts';
import type { SegmentAnnouncement } from '../common/types.ts';
import { type OriginConfig, parseLadder } from './config.ts';
import type { LiveStreamOptions } from './live-stream-parts.ts';
import type { PublishedSegment } from './segment-types.ts';
import type { TranscodeInput } from './transcode-command.ts';

/** A crashed transcoder is restarted for as long as its source is there, backing off to 10 s. */
export const FFMPEG_RETRY: RetryPolicy = {
  maxNumRetry: Number.POSITIVE_INFINITY,
  retryDelayMs: 500,
  maxRetryDelayMs: 10_000,
};

/** What a stream's options take from the running origin rather than from its config. */
export interface StreamPlace {
  streamId: string;
  /** `<dataDir>`: the stream writes under `<dataDir>/<streamId>`. */
  dataDir: string;
  /** The NMS URL the transcoder pulls; read at each transcoder start (a reconnect changes it). */
  rtmpInput: () => string;
  /** Numbered from here (the origin uses the wall clock in Unix seconds). */
  firstMsn: number;
}

/**
 * A live stream's options from the origin's config, without its hooks (app.ts adds those). The
 * configured stream of a test-pattern origin reads the pattern; every other stream reads its publisher.
 */
export function streamOptionsFor(
  c: OriginConfig,
  place: StreamPlace,
): Omit<LiveStreamOptions, 'ingestUrl' | 'log' | 'onChange' | 'onSegment' | 'onRunEnd'> {
  const input: TranscodeInput =
    c.source === 'testsrc' && place.streamId === c.streamId
      ? { kind: 'testsrc', size: c.testsrcSize, fps: c.fps }
      : {
          kind: 'rtmp',
          get url() {
            return place.rtmpInput();
          },
        };
  return {
    streamId: place.streamId,
    ladder: parseLadder(c.ladder),
    fps: c.fps,
    segmentSeconds: c.segmentSeconds,
    windowSegments: c.windowSegments,
    retainSegments: c.retainSegments,
    firstMsn: place.firstMsn,
    dir: join(place.dataDir, place.streamId),
    endGraceMs: c.endGraceMs,
    ffmpegPath: c.ffmpegPath,
    input,
    retry: FFMPEG_RETRY,
    lowLatency: c.lowLatency,
    segmentFormat: c.segmentFormat as 'fmp4' | 'ts',
  };
}

/** A finished segment as announced to the coordinator (duration to 5 decimals, PDT as ISO text). */
export function segmentAnnouncement(
  streamId: string,
  rendition: string,
  seg: PublishedSegment,
): SegmentAnnouncement {
  return {
    streamId,
    rendition,
    msn: seg.msn,
    file: seg.file,
    size: seg.size,
    sha256: seg.sha256,
    duration: Number(seg.duration.toFixed(5)),
    programDateTime: seg.programDateTime.toISOString(),
  };
}
