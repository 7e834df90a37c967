/**
 * What a relay knows of each rendition's live window, learned from segment announcements and the media
 * playlists it fills, so names far outside it are refused locally instead of costing an upstream fetch.
 */

/** Segments (and parts) past the newest known one that may be asked for before the relay hears of them. */
export const WINDOW_LEAD = 3;
/** Segments before the oldest one in the newest playlist still let through (a player's older playlist). */
export const WINDOW_TAIL = 3;
/** Without a playlist: segments before the last announced one still let through. */
export const ANNOUNCED_TAIL = 32;
/** LL-HLS part numbers within one segment. */
export const MAX_PART = 63;
/** Renditions remembered per stream (announcements and filled playlists only: trusted sources). */
const RENDITIONS_MAX = 64;

/** `42.m4s` → 42, `42.3.m4s` → [42, 3]; undefined for other names (init sections, playlists). */
export function mediaNumbers(file: string): { msn: number; part: number | undefined } | undefined {
  const m = /^(\d{1,10})(?:\.(\d{1,6}))?\.[a-z0-9]+$/.exec(file);
  if (!m) return undefined;
  return { msn: Number(m[1]), part: m[2] === undefined ? undefined : Number(m[2]) };
}

interface RenditionWindow {
  /** Last announced msn. */
  announced: number | undefined;
  /** Oldest and newest msn named in the last filled playlist (segments, parts, preload hint). */
  listed: { lo: number; hi: number } | undefined;
}

/**
 * Per stream and rendition, the msn range a request may name. Two sources, either admits: the last
 * playlist (its oldest segment − WINDOW_TAIL to its newest + WINDOW_LEAD) and the last announcement
 * (− ANNOUNCED_TAIL, + WINDOW_LEAD). Taking the latest of each, not the maximum, keeps a restarted
 * stream (numbers back at 0) working as soon as either source says so.
 */
export class StreamWindow {
  private readonly streams = new Map<string, Map<string, RenditionWindow>>();

  /** A segment announcement (from the coordinator). */
  announced(streamId: string, rendition: string, msn: number): void {
    const w = this.window(streamId, rendition);
    if (w) w.announced = msn;
  }

  /** A media playlist this relay filled: the media numbers of the URIs it lists. */
  listed(streamId: string, rendition: string, playlist: string): void {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    // Segment URIs are lines of their own; parts and the preload hint are URI="…" attributes.
    for (const m of playlist.matchAll(/(?:^|URI=")(\d{1,10})(?:\.\d{1,6})?\.[a-z0-9]+(?:"|$)/gm)) {
      const msn = Number(m[1]);
      if (msn < lo) lo = msn;
      if (msn > hi) hi = msn;
    }
    if (hi < lo) return;
    const w = this.window(streamId, rendition);
    if (!w) return;
    // A delta update (EXT-X-SKIP) leaves out older segments that are still live: it moves only the top.
    if (playlist.includes('#EXT-X-SKIP')) lo = Math.min(w.listed?.lo ?? hi - ANNOUNCED_TAIL, lo);
    w.listed = { lo, hi };
  }

  /**
   * False when `file` names a segment or part far outside what the relay knows of the rendition (or,
   * for a rendition it knows nothing of, of the stream's others). True for other names, and when
   * nothing is known yet (cold start: the first requests go upstream).
   */
  admits(streamId: string, rendition: string, file: string): boolean {
    const n = mediaNumbers(file);
    if (!n) return true;
    if (n.part !== undefined && n.part > MAX_PART) return false;
    const byRendition = this.streams.get(streamId);
    if (!byRendition) return true;
    const own = byRendition.get(rendition);
    if (own) return inside(own, n.msn);
    for (const w of byRendition.values()) if (inside(w, n.msn)) return true;
    return byRendition.size === 0;
  }

  /** True once anything is known of the stream's window (an announcement or a filled playlist). */
  knows(streamId: string): boolean {
    return (this.streams.get(streamId)?.size ?? 0) > 0;
  }

  /** The newest msn the relay knows for a rendition (for LL-HLS blocking reloads), if any. */
  newest(streamId: string, rendition: string): number | undefined {
    const w = this.streams.get(streamId)?.get(rendition);
    if (!w) return undefined;
    return Math.max(w.announced ?? -1, w.listed?.hi ?? -1);
  }

  /** Forgets a stream (it ended). */
  forget(streamId: string): void {
    this.streams.delete(streamId);
  }

  private window(streamId: string, rendition: string): RenditionWindow | undefined {
    let byRendition = this.streams.get(streamId);
    if (!byRendition) {
      byRendition = new Map();
      this.streams.set(streamId, byRendition);
    }
    let w = byRendition.get(rendition);
    if (!w) {
      if (byRendition.size >= RENDITIONS_MAX) return undefined;
      w = { announced: undefined, listed: undefined };
      byRendition.set(rendition, w);
    }
    return w;
  }
}

function inside(w: RenditionWindow, msn: number): boolean {
  const { announced: a, listed: l } = w;
  if (l && msn >= l.lo - WINDOW_TAIL && msn <= l.hi + WINDOW_LEAD) return true;
  return a !== undefined && msn >= a - ANNOUNCED_TAIL && msn <= a + WINDOW_LEAD;
}
