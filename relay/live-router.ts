import { RingcastError, toRingcastError } from '../common/errors.ts';
import { type LivePath, parseLivePath } from '../common/names.ts';
import type { StreamInfo } from '../common/types.ts';
import type { CacheEntry } from './cache-entry.ts';
import type { ClusterSource } from './cluster-source.ts';
import type { Filler } from './filler.ts';
import type { HopAuth } from './hop-auth.ts';
import { type BlockingQuery, blockingQuery, NO_QUERY, sessionParam } from './live-query.ts';
import type { RelayMetrics } from './relay-metrics.ts';
import type { RequestGuard } from './request-guard.ts';
import type { FastRequest } from './request-head.ts';
import type { CacheResult } from './response-plan.ts';
import type { SegmentCache } from './segment-cache.ts';
import type { ViewerTracker } from './viewer-tracker.ts';

/** What a routed `/live/` request is answered with: an entry to serve, or an error. */
export type LiveRoute = { entry: CacheEntry; result: CacheResult } | RingcastError;

/** What the router needs of the relay: narrow, so tests pass small fakes. */
export interface LiveRouterDeps {
  cluster: Pick<ClusterSource, 'stream'>;
  cache: Pick<SegmentCache, 'get'>;
  hopAuth: Pick<HopAuth, 'check'>;
  viewers: Pick<ViewerTracker, 'seen'>;
  guard: Pick<RequestGuard, 'check' | 'admit'>;
  filler: Pick<Filler, 'start' | 'originLinkDown' | 'toOrigin'>;
  metrics: Pick<RelayMetrics, 'requestCounts'>;
}

/** A request the router has checked: its path, stream, forwarded LL-HLS query and whether it is a hop. */
interface Checked {
  path: LivePath;
  stream: StreamInfo;
  blocking: BlockingQuery;
  hop: boolean;
}

/**
 * The route decision of the relay's `/live/` requests, for every front end (Node's http and the fast
 * path): the entry to serve (starting a fill on a miss) or the error to answer with. The hop rule and
 * the live-window guard apply here (docs/architecture.md, "The hop rule"), and before them a private
 * stream's playback token.
 */
export class LiveRouter {
  /** Parsed `/live/` paths of recent requests: the hot keys skip decoding and validation. */
  private readonly parsedPaths = new Map<string, LivePath>();

  constructor(private readonly deps: LiveRouterDeps) {}

  route(req: FastRequest): LiveRoute {
    const checked = this.check(req);
    if (checked instanceof RingcastError) return checked;
    const { path, stream, blocking, hop } = checked;
    const forward = blocking.query;
    const now = Date.now();
    // Peers are not viewers: only viewer requests count and steer prefetching.
    if (!hop) {
      const session = sessionParam(req.query) ?? req.session();
      this.deps.viewers.seen(path.streamId, path.rendition, session, req.address(), now);
    }
    const cacheKey = forward ? path.relPath + forward : path.relPath;
    let entry = this.deps.cache.get(cacheKey, now);
    // RFC 9111 only-if-cached: answer from the cache or 504, never fill (probes and benchmarks use it).
    if (entry?.state !== 'complete' && req.onlyIfCached) return new RingcastError('RC_NOT_CACHED');
    let result: CacheResult;
    if (!entry) {
      const refused = this.deps.guard.check(path, blocking.msn, stream);
      if (refused) return refused;
      entry = this.deps.filler.start({ path, cacheKey, query: forward, hop, stream }, true);
      result = 'MISS';
    } else if (entry.state === 'complete') result = 'HIT';
    else if (hop && this.ownFillFor(entry, stream)) {
      // A fill waiting on a link we take as broken would hold the peer for a timeout, and one waiting
      // on a peer that it cannot give up could wait on the very relay that asks: a fill of its own
      // (origin only, or none while our link is broken).
      entry = this.deps.filler.start({ path, cacheKey, query: forward, hop, stream }, false);
      result = 'MISS';
    } else result = 'COALESCED';
    this.deps.metrics.requestCounts[RESULT_LABELS[result]]++;
    return { entry, result };
  }

  /** Path, stream and LL-HLS query checked; the hop token checked against the ring's. */
  private check(req: FastRequest): Checked | RingcastError {
    const target = splitToken(req.pathname);
    if (target instanceof RingcastError) return target;
    let path: LivePath;
    try {
      path = this.parsePath(target.pathname);
    } catch (err) {
      return toRingcastError(err);
    }
    const stream = this.deps.cluster.stream(path.streamId);
    if (!stream) return new RingcastError('RC_STREAM_NOT_FOUND', `stream ${path.streamId} is not known`);
    // Only ring members (who hold the cluster secret) make hop requests; anyone else is a viewer.
    const hop = req.hop !== undefined && this.deps.hopAuth.check(req.hop, req.address);
    // A private stream's viewer shows a token before anything is looked up, counted or fetched; a hop is
    // authorised by the ring's token instead. Public streams ignore a token prefix.
    if (stream.private && !hop) {
      const refused = this.deps.guard.admit({
        token: target.token,
        stream: stream.id,
        address: req.address(),
        session: sessionParam(req.query),
      });
      if (refused) return refused;
    }
    // LL-HLS parameters key (and are forwarded) only on LL streams: elsewhere a query is no new object.
    let blocking: BlockingQuery = NO_QUERY;
    if (req.query && path.kind === 'playlist' && stream.lowLatency) {
      try {
        blocking = blockingQuery(new URLSearchParams(req.query));
      } catch (err) {
        return toRingcastError(err);
      }
    }
    return { path, stream, blocking, hop };
  }

  /** A hop joining a pending fill gets a fill of its own when that one could hold it (see route). */
  private ownFillFor(entry: CacheEntry, stream: StreamInfo): boolean {
    const filler = this.deps.filler;
    return filler.originLinkDown(stream.originUrl) || (!entry.originOnly && !filler.toOrigin(entry));
  }

  private parsePath(pathname: string): LivePath {
    let path = this.parsedPaths.get(pathname);
    if (path) return path;
    path = parseLivePath(pathname);
    // Bounded: live keys roll over, so starting afresh now and then is enough.
    if (this.parsedPaths.size >= PARSED_PATHS_MAX) this.parsedPaths.clear();
    this.parsedPaths.set(pathname, path);
    return path;
  }
}

const PARSED_PATHS_MAX = 4096;

const TOKEN_PREFIX = '/t/';

/**
 * `/t/<token>/live/...` → the token and the plain `/live/...` path (docs/api.md, "Signed playback"): the
 * token is cut off here, so it never reaches a cache key, a log line or a metric label.
 */
export function splitToken(
  pathname: string,
): { token: string | undefined; pathname: string } | RingcastError {
  if (!pathname.startsWith(TOKEN_PREFIX)) return { token: undefined, pathname };
  const end = pathname.indexOf('/', TOKEN_PREFIX.length);
  if (end < 0 || !pathname.startsWith('/live/', end))
    return new RingcastError('RC_BAD_PATH', 'a token prefix must be followed by /live/');
  return { token: pathname.slice(TOKEN_PREFIX.length, end), pathname: pathname.slice(end) };
}

const RESULT_LABELS = { HIT: 'hit', MISS: 'miss', COALESCED: 'coalesced' } as const;
