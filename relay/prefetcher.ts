import type { SegmentAnnouncement } from '../common/types.ts';
import type { ClusterChange, ClusterSource } from './cluster-source.ts';
import type { Filler } from './filler.ts';
import { announcedPath, cachedState, prefetchAction } from './prefetch-policy.ts';
import type { RelayMetrics } from './relay-metrics.ts';
import type { RequestGuard } from './request-guard.ts';
import type { SegmentCache } from './segment-cache.ts';
import type { ViewerTracker } from './viewer-tracker.ts';

/** What the prefetcher needs of the relay: narrow, so tests pass small fakes. */
export interface PrefetcherDeps {
  cluster: Pick<ClusterSource, 'stream' | 'ring'>;
  cache: Pick<SegmentCache, 'get' | 'remove'>;
  viewers: Pick<ViewerTracker, 'watching'>;
  guard: Pick<RequestGuard, 'window'>;
  filler: Pick<Filler, 'start'>;
  metrics: Pick<RelayMetrics, 'prefetches'>;
  /** The relay's id on the ring ('' until it is bound). */
  selfId: () => string;
}

/**
 * Acts on segment announcements: the live window learns each one, and prefetch-policy.ts decides
 * whether to fetch it now (docs/architecture.md, "One segment", step 6).
 */
export class Prefetcher {
  constructor(private readonly deps: PrefetcherDeps) {}

  onChange(change: ClusterChange): void {
    if (change.type === 'segment') this.announced(change.segment);
  }

  private announced(seg: SegmentAnnouncement): void {
    const { cluster, cache, guard } = this.deps;
    if (Number.isSafeInteger(seg.msn)) guard.window.announced(seg.streamId, seg.rendition, seg.msn);
    const path = announcedPath(seg);
    if (!path) return;
    const stream = cluster.stream(seg.streamId);
    const now = Date.now();
    const cached = stream ? cache.get(path.relPath, now) : undefined;
    const action = prefetchAction({
      streamKnown: stream !== undefined,
      cached: cachedState(cached),
      ownerId: cluster.ring().owner(path.ringKey)?.id,
      selfId: this.deps.selfId(),
      watching: this.deps.viewers.watching(seg.streamId, seg.rendition, now),
    });
    if (action.kind === 'ignore' || !stream) return;
    if (cached && (action.kind === 'forget-404' || action.forget404)) cache.remove(cached);
    if (action.kind !== 'prefetch') return;
    this.deps.metrics.prefetches.inc({ source: action.source });
    this.deps.filler.start({ path, cacheKey: path.relPath, query: '', hop: false, stream }, true);
  }
}
