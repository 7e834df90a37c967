import type { RenditionReportState } from './playlist-writer.ts';
import type { PartialState, PublishedSegment } from './segment-types.ts';

/**
 * What LL-HLS reads of one rendition's packager: the window, the segment being built, whether it ended.
 * Pure functions over it answer the live-edge questions of blocking reloads, preload hints and
 * rendition reports (RFC 8216bis 6.2.5.2, 4.4.5.3, 4.4.5.4).
 */
export interface RenditionEdgeView {
  readonly segments: readonly PublishedSegment[];
  readonly partial: PartialState | undefined;
  readonly isEnded: boolean;
  readonly nextSequenceNumber: number;
}

/** Last complete segment number (-1 before the first). */
export const lastMsnOf = (p: RenditionEdgeView | undefined): number => p?.segments.at(-1)?.msn ?? -1;

/** The last part in the playlist: of the segment being built, else of the last segment. */
export function liveEdgeOf(p: RenditionEdgeView | undefined): { msn: number; part: number } | undefined {
  const partial = p?.partial;
  if (partial) return { msn: partial.msn, part: partial.parts.length - 1 };
  const last = p?.segments.at(-1);
  return last ? { msn: last.msn, part: Math.max(0, last.parts.length - 1) } : undefined;
}

/** True when part `index` of segment `msn` is the next part to come (the preload hint). */
export function isNextPartOf(p: RenditionEdgeView | undefined, msn: number, index: number): boolean {
  if (!p || p.isEnded) return false;
  const partial = p.partial;
  if (partial)
    return (partial.msn === msn && index >= partial.parts.length) || (msn === partial.msn + 1 && index === 0);
  return msn === p.nextSequenceNumber && index === 0;
}

/** True once the playlist has segment `msn` (or its part `part`), or the rendition ended (or is unknown). */
export function hasReachedOf(p: RenditionEdgeView | undefined, msn: number, part?: number): boolean {
  if (!p || p.isEnded || lastMsnOf(p) >= msn) return true;
  if (part === undefined) return false;
  const partial = p.partial;
  return partial !== undefined && (partial.msn > msn || (partial.msn === msn && partial.parts.length > part));
}

/** The EXT-X-RENDITION-REPORT of a rendition named `name`, seen from a sibling; undefined before a segment. */
export function renditionReportOf(name: string, p: RenditionEdgeView): RenditionReportState | undefined {
  const last = p.segments.at(-1);
  if (!last) return undefined;
  const uri = `../${name}/index.m3u8`;
  const partial = p.partial;
  if (partial) return { uri, lastMsn: partial.msn, lastPart: partial.parts.length - 1 };
  return { uri, lastMsn: last.msn, lastPart: last.parts.length > 0 ? last.parts.length - 1 : undefined };
}
