/** What the packager produces: parts, init sections and segments. */
import type { TrackInfo } from './box-parser.ts';

/** One fMP4 fragment (`moof`+`mdat`): an LL-HLS part. */
export interface Part {
  data: Buffer;
  /** Seconds. */
  duration: number;
  /** Starts with a keyframe. */
  independent: boolean;
}

/** The init section (`ftyp`+`moov`) of a rendition. */
export interface InitSection {
  /** `init-<first 8 hex of sha256>.mp4`: a changed init gets a new immutable name. */
  name: string;
  data: Buffer;
  tracks: TrackInfo[];
  /** `avc1.64001f,mp4a.40.2`. */
  codecs: string;
  width?: number;
  height?: number;
}

/** A finished, written segment. */
export interface PublishedSegment {
  msn: number;
  file: string;
  /** Seconds. */
  duration: number;
  programDateTime: Date;
  /** First segment after an encoder restart. */
  discontinuity: boolean;
  discontinuitySequence: number;
  size: number;
  sha256: string;
  initName: string;
  /** Kept in memory while the segment is near the live edge (LL-HLS). */
  parts: Part[];
  /** The bytes, until they are on disk. */
  pending?: Buffer;
}

/** The segment being built, for LL-HLS. */
export interface PartialState {
  msn: number;
  parts: readonly Part[];
  programDateTime: Date;
  discontinuity: boolean;
}
