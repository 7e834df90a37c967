import { type LivePath, parseLivePath } from '../common/names.ts';
import type { SegmentAnnouncement } from '../common/types.ts';

/** What the cache holds under an announced segment's key. */
export type CachedState =
  /** nothing: the segment is neither cached nor filling */
  | 'none'
  /** an origin 404 kept from a request that came a moment early */
  | 'kept-404'
  /** the segment, or a fill of it */
  | 'held';

/** What the relay knows when a segment is announced (docs/architecture.md, "One segment", step 6). */
export interface PrefetchFacts {
  /** The stream is one the cluster announced (with an origin to fill from). */
  streamKnown: boolean;
  cached: CachedState;
  /** The segment's ring owner, if the ring has members. */
  ownerId: string | undefined;
  selfId: string;
  /** Viewers of the segment's rendition were seen lately. */
  watching: boolean;
}

/** What to do about an announced segment. */
export type PrefetchAction =
  /** nothing: unknown stream, or already held */
  | { kind: 'ignore' }
  /** drop the kept 404 (the segment exists now), fetch nothing: not ours, nobody watching */
  | { kind: 'forget-404' }
  /** fetch it now: from the origin as its owner, else through the ring; `forget404` drops a kept 404 first */
  | { kind: 'prefetch'; source: 'origin' | 'peer'; forget404: boolean };

/**
 * The ring owner of a segment fetches it at once, and relays with viewers of its rendition fetch it
 * from the owner, so a viewer's request is a hit (docs/architecture.md, "One segment", step 6). A kept
 * 404 is dropped whatever else is decided: the announcement says the segment exists now.
 */
export function prefetchAction(facts: PrefetchFacts): PrefetchAction {
  if (!facts.streamKnown || facts.cached === 'held') return { kind: 'ignore' };
  const forget404 = facts.cached === 'kept-404';
  const mine = facts.ownerId === facts.selfId;
  if (!mine && !facts.watching) return forget404 ? { kind: 'forget-404' } : { kind: 'ignore' };
  return { kind: 'prefetch', source: mine ? 'origin' : 'peer', forget404 };
}

/** The cache's state for an entry under the announced key (undefined: none). */
export function cachedState(entry: { state: string; status: number } | undefined): CachedState {
  if (!entry) return 'none';
  return entry.state === 'complete' && entry.status === 404 ? 'kept-404' : 'held';
}

/** The path an announcement names, or undefined when its names are not valid ones. */
export function announcedPath(seg: SegmentAnnouncement): LivePath | undefined {
  try {
    return parseLivePath(`/live/${seg.streamId}/${seg.rendition}/${seg.file}`);
  } catch {
    return undefined;
  }
}
