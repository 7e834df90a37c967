import HLS from 'hls-parser';
import type { RenditionInfo } from '../common/types.ts';
import type { PublishedSegment } from './packager.ts';

const { MasterPlaylist, MediaInitializationSection, MediaPlaylist, Segment, Variant } = HLS.types;

/** What a media playlist is made of. */
export interface MediaPlaylistState {
  segments: readonly PublishedSegment[];
  /** Seconds; see targetDurationFor. */
  targetDuration: number;
  ended: boolean;
}

/**
 * The target duration: the longest segment rounded to the nearest integer (RFC 8216 4.3.3.1 rounds
 * EXTINF that way), never below the configured segment length, so it does not change as the window moves.
 */
export function targetDurationFor(longestSeconds: number, segmentSeconds: number): number {
  return Math.max(segmentSeconds, Math.round(longestSeconds), 1);
}

/** The media playlist of one rendition: a sliding window with PDT on every segment. */
export function mediaPlaylistText(state: MediaPlaylistState): string {
  const first = state.segments[0];
  const playlist = new MediaPlaylist({
    version: 7,
    independentSegments: true,
    targetDuration: state.targetDuration,
    mediaSequenceBase: first?.msn ?? 0,
    discontinuitySequenceBase: first ? first.discontinuitySequence : 0,
    endlist: state.ended,
    segments: state.segments.map(
      (s, i) =>
        new Segment({
          uri: s.file,
          duration: Number(s.duration.toFixed(5)),
          mediaSequenceNumber: s.msn,
          discontinuitySequence: s.discontinuitySequence,
          // The first segment of the window carries no tag: DISCONTINUITY-SEQUENCE already counts it.
          discontinuity: i > 0 && s.discontinuity,
          programDateTime: s.programDateTime,
          map: new MediaInitializationSection({ uri: s.initName }),
        }),
    ),
  });
  let text = HLS.stringify(playlist);
  // hls-parser leaves out a zero MEDIA-SEQUENCE; players accept that, but tools and people read it.
  if (!text.includes('#EXT-X-MEDIA-SEQUENCE')) {
    text = text.replace(/(#EXT-X-TARGETDURATION:\d+)/, `$1\n#EXT-X-MEDIA-SEQUENCE:${first?.msn ?? 0}`);
  }
  return `${text}\n`;
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
