import HLS from 'hls-parser';
import { partFileName } from '../common/names.ts';
import type { RenditionInfo } from '../common/types.ts';
import type { PartialState, PublishedSegment } from './segment-types.ts';

const {
  MasterPlaylist,
  MediaInitializationSection,
  MediaPlaylist,
  PartialSegment,
  RenditionReport,
  Segment,
  Variant,
} = HLS.types;

/** LL-HLS additions to a media playlist. */
export interface LowLatencyState {
  /** Seconds: at least every part's duration. */
  partTarget: number;
  /** The segment being built, with the parts so far. */
  partial?: PartialState;
  /** Number of the next segment (for the preload hint when nothing is being built). */
  nextMsn: number;
  /**
   * Keyframe interval in seconds: once the segment being built holds that much, its next fragment
   * starts a new segment, so the preload hint names `<msn+1>.0.m4s`.
   */
  segmentSeconds?: number;
  initName?: string;
  /** Delta update (`_HLS_skip=YES|v2`): segments older than the skip boundary become EXT-X-SKIP. */
  skip?: boolean;
  /** EXT-X-RENDITION-REPORT for the other renditions. */
  reports?: readonly RenditionReportState[];
}

/** Where another rendition's live edge is (`URI` relative to this playlist). */
export interface RenditionReportState {
  uri: string;
  lastMsn: number;
  lastPart?: number;
}

/** CAN-SKIP-UNTIL: six target durations, the least the LL-HLS spec allows. */
export const skipUntilFor = (targetDuration: number) => targetDuration * 6;

/**
 * How many segments a delta update leaves out: those that end at least `skipUntil` seconds before the
 * end of the playlist (its last segment plus the parts of the one being built).
 */
export function skippedSegments(
  segments: readonly { duration: number }[],
  partialSeconds: number,
  skipUntil: number,
): number {
  let after = partialSeconds;
  let skip = 0;
  for (let i = segments.length - 1; i >= 0; i--) {
    if (after >= skipUntil) {
      skip = i + 1;
      break;
    }
    after += segments[i]!.duration;
  }
  return skip;
}

/** What a media playlist is made of. */
export interface MediaPlaylistState {
  segments: readonly PublishedSegment[];
  /** Seconds; see targetDurationFor. */
  targetDuration: number;
  ended: boolean;
  lowLatency?: LowLatencyState;
}

/**
 * The target duration: the longest segment rounded to the nearest integer (RFC 8216 4.3.3.1 rounds
 * EXTINF that way), never below the configured segment length, so it does not change as the window moves.
 */
export function targetDurationFor(longestSeconds: number, segmentSeconds: number): number {
  return Math.max(segmentSeconds, Math.round(longestSeconds), 1);
}

const round5 = (n: number) => Number(n.toFixed(5));

function partsOf(msn: number, parts: readonly { duration: number; independent: boolean }[]) {
  return parts.map(
    (p, i) =>
      new PartialSegment({
        hint: false,
        uri: partFileName(msn, i),
        duration: round5(p.duration),
        independent: p.independent,
      }),
  );
}

/** The media playlist of one rendition: a sliding window with PDT on every segment. */
export function mediaPlaylistText(state: MediaPlaylistState): string {
  const first = state.segments[0];
  const ll = state.lowLatency && !state.ended ? state.lowLatency : undefined;
  const segments = windowSegments(state.segments, ll !== undefined);
  let skip = 0;
  if (ll?.skip) {
    skip = skippedSegments(state.segments, secondsOf(ll.partial?.parts), skipUntilFor(state.targetDuration));
    segments.splice(0, skip);
  }
  if (ll) segments.push(segmentBeingBuilt(ll, segments.length > 0));
  const playlist = new MediaPlaylist({
    version: ll ? 9 : 7,
    independentSegments: true,
    targetDuration: state.targetDuration,
    mediaSequenceBase: first?.msn ?? 0,
    discontinuitySequenceBase: first ? first.discontinuitySequence : 0,
    endlist: state.ended,
    partTargetDuration: ll?.partTarget,
    lowLatencyCompatibility: ll ? serverControl(ll, state.targetDuration) : undefined,
    segments,
    skip,
    renditionReports: (ll?.reports ?? []).map(
      (r) => new RenditionReport({ uri: r.uri, lastMSN: r.lastMsn, lastPart: r.lastPart as number }),
    ),
  });
  return withMediaSequence(HLS.stringify(playlist), first?.msn ?? 0);
}

const secondsOf = (parts: readonly { duration: number }[] = []) =>
  parts.reduce((sum, p) => sum + p.duration, 0);

/** The window's segments; with LL-HLS, the last two carry their parts. */
function windowSegments(window: readonly PublishedSegment[], lowLatency: boolean) {
  return window.map(
    (s, i) =>
      new Segment({
        uri: s.file,
        duration: round5(s.duration),
        mediaSequenceNumber: s.msn,
        discontinuitySequence: s.discontinuitySequence,
        // The first segment of the window carries no tag: DISCONTINUITY-SEQUENCE already counts it.
        discontinuity: i > 0 && s.discontinuity,
        programDateTime: s.programDateTime,
        // MPEG-TS segments (segmentFormat=ts) have no init section.
        map: s.initName ? new MediaInitializationSection({ uri: s.initName }) : undefined,
        // EXT-X-PART only within three target durations of the end: the last two segments and the one
        // being built (RFC 8216bis 4.4.4.9).
        parts: lowLatency && i >= window.length - 2 ? partsOf(s.msn, s.parts) : [],
      }),
  );
}

/**
 * The segment being built: its parts so far and a hint for the next one (no EXTINF yet). Once it holds
 * a keyframe interval, the next fragment starts a new segment, so the hint names `<msn+1>.0`.
 */
function segmentBeingBuilt(ll: LowLatencyState, afterOthers: boolean) {
  const p = ll.partial;
  const msn = p?.msn ?? ll.nextMsn;
  const built = secondsOf(p?.parts);
  const full = ll.segmentSeconds !== undefined && built + ll.partTarget / 2 >= ll.segmentSeconds;
  const hint = new PartialSegment({
    hint: true,
    uri: full ? partFileName(msn + 1, 0) : partFileName(msn, p?.parts.length ?? 0),
  });
  return new Segment({
    mediaSequenceNumber: msn,
    discontinuity: (p?.discontinuity ?? false) && afterOthers,
    programDateTime: p?.programDateTime,
    map: ll.initName ? new MediaInitializationSection({ uri: ll.initName }) : undefined,
    parts: [...(p ? partsOf(msn, p.parts) : []), hint],
  });
}

/** EXT-X-SERVER-CONTROL: blocking reloads, delta updates, and hold-backs of three targets. */
function serverControl(ll: LowLatencyState, targetDuration: number) {
  return {
    canBlockReload: true,
    canSkipUntil: skipUntilFor(targetDuration),
    holdBack: round5(targetDuration * 3),
    partHoldBack: round5(ll.partTarget * 3),
  };
}

/** hls-parser leaves out a zero MEDIA-SEQUENCE; players accept that, but tools and people read it. */
function withMediaSequence(text: string, firstMsn: number): string {
  const full = text.includes('#EXT-X-MEDIA-SEQUENCE')
    ? text
    : text.replace(/(#EXT-X-TARGETDURATION:\d+)/, `$1\n#EXT-X-MEDIA-SEQUENCE:${firstMsn}`);
  return `${full}\n`;
}

/** The master playlist with relative URIs (`720p/index.m3u8`). */
export function masterPlaylistText(renditions: readonly RenditionInfo[]): string {
  const playlist = new MasterPlaylist({
    version: 7,
    independentSegments: true,
    variants: renditions.map(
      (r) =>
        new Variant({
          uri: `${r.name}/index.m3u8`,
          bandwidth: r.bandwidth,
          averageBandwidth: r.averageBandwidth,
          codecs: r.codecs,
          resolution: r.width && r.height ? { width: r.width, height: r.height } : undefined,
          frameRate: r.frameRate,
        }),
    ),
  });
  return `${HLS.stringify(playlist)}\n`;
}
