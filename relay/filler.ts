import { setMaxListeners } from 'node:events';
import type { Agent } from 'node:http';
import type { ClusterTls } from '../common/ca-fetch.ts';
import { RingcastError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { isPartFile, type LivePath } from '../common/names.ts';
import type { StreamInfo } from '../common/types.ts';
import { BodyJoiner } from './body-joiner.ts';
import { CacheEntry } from './cache-entry.ts';
import { awaitAnnouncement, type ClusterSource } from './cluster-source.ts';
import type { RelayConfig } from './config.ts';
import { type AttemptOutcome, fetchLabel, fillStep, linkVerdict, outcomeError } from './fill-outcome.ts';
import { initDigest, notFoundTtlMs, playlistTtlMs, upstreamCall } from './fill-policy.ts';
import { OriginBreaker } from './origin-breaker.ts';
import type { RelayMetrics } from './relay-metrics.ts';
import type { SegmentCache } from './segment-cache.ts';
import { type Expected, SourceAttempt } from './source-attempt.ts';
import { baseOf, type FillSource, sourceOrder } from './source-order.ts';
import { requestUpstream } from './upstream-request.ts';
import type { ZeroCopy } from './zero-copy.ts';

/** How long a peer fill of a not-yet-announced segment waits for the announcement. */
const ANNOUNCEMENT_WAIT_MS = 1000;

/** Is there an origin after `index` in `sources` (where a given-up peer's fill goes on)? */
const originAfter = (sources: readonly FillSource[], index: number): boolean =>
  sources.some((x, i) => i > index && x.kind === 'origin');

/** A peer that cannot be verified in time is skipped (see Filler.expected). */
type Verification = Expected | undefined | 'skip';

export interface FillerDeps {
  config: RelayConfig;
  cluster: ClusterSource;
  cache: SegmentCache;
  agent: Agent;
  /** Links over https with the cluster's CA (`tlsCa`, common/ca-fetch.ts); absent: the system's CAs. */
  clusterTls?: ClusterTls;
  metrics: RelayMetrics;
  log: Logger;
  /** This relay's id (known once bound). */
  selfId(): string;
  /** Where large complete bodies go for sendfile (zero-copy.ts); absent: one Buffer each. */
  zeroCopy?: ZeroCopy;
  /** The `X-Ringcast-Hop` value that proves a request comes from a ring member (hop-auth.ts). */
  hopToken: string;
  /** A media playlist was filled (200): the relay learns the rendition's window from it. */
  onPlaylist?(entry: CacheEntry): void;
}

/** One fill request: what to fetch and for whom. */
export interface FillRequest {
  path: LivePath;
  cacheKey: string;
  /** Query string to forward (`?_HLS_msn=…`), or ''. */
  query: string;
  /** The request came from a peer: origin only, never another peer. */
  hop: boolean;
  stream: StreamInfo;
}

/**
 * Fills cache entries from upstream: origin when this relay owns the ring key (or the request came
 * from a peer), otherwise the owner, the next ring members, then the origin (relay/source-order.ts).
 * One upstream request per entry however many viewers wait; bytes are published to them as they
 * arrive, except for a peer fill that can be verified against its announcement, which is held until
 * its digest matches. Each fill is one async loop over its sources (fill()).
 */
export class Filler {
  /** Upstream requests in flight, each with its abort. */
  private readonly aborts = new Set<() => void>();
  /** Aborted at close: every fill ends, waits for announcements too. */
  private readonly closing = new AbortController();
  /** Origin links taken as broken, and peers that refused hops for lack of theirs. */
  private readonly breaker: OriginBreaker;
  /** Fills now waiting on a peer, each with a way to give that peer up for the origin (see toOrigin). */
  private readonly onPeer = new Map<CacheEntry, () => void>();

  /** Large complete bodies into memfd regions, when the relay has zero-copy. */
  private readonly bodies: BodyJoiner;

  constructor(private readonly deps: FillerDeps) {
    const { config, log } = deps;
    // Every fill waiting on an announcement listens on this one signal, and removes its listener when the
    // wait ends: a dozen at once is a busy edge, not a leak for Node to warn about.
    setMaxListeners(0, this.closing.signal);
    this.bodies = new BodyJoiner(deps.zeroCopy, log);
    this.breaker = new OriginBreaker({
      probeAfterMs: config.originBreakerMs,
      probeTimeoutMs: config.connectTimeoutMs + config.firstByteTimeoutMs,
      fetch: deps.clusterTls?.fetch,
      log,
    });
  }

  /** Starts filling a new entry; `cached` entries go into the cache, others serve one request. */
  start(req: FillRequest, cached: boolean): CacheEntry {
    const sources = this.sources(req);
    const entry = new CacheEntry(req.cacheKey, req.path);
    if (cached) this.deps.cache.add(entry);
    this.deps.cache.pin(entry);
    this.fill(entry, req, sources).catch((err: unknown) => {
      // A bug, not an upstream failure: the viewers get a 500 rather than wait on a pinned entry forever.
      this.deps.log.error({ err: (err as Error).message, key: req.cacheKey }, 'fill crashed');
      if (entry.state === 'pending' || entry.state === 'streaming')
        this.finish(entry, new RingcastError('RC_INTERNAL', 'fill crashed', { cause: err }));
    });
    return entry;
  }

  /** Upstream order for a request (docs/architecture.md, "The hop rule"; relay/source-order.ts). */
  sources(req: FillRequest): FillSource[] {
    const originBase = baseOf(req.stream.originUrl);
    const linkDown = this.breaker.isOpen(originBase);
    if (req.hop) return sourceOrder({ originBase, linkDown });
    const { peerAttempts } = this.deps.config;
    const ring = {
      self: this.deps.selfId(),
      candidates: this.deps.cluster.ring().candidates(req.path.ringKey, peerAttempts + 2),
      peerAttempts,
      refused: this.breaker.refusedPeers(originBase),
    };
    return sourceOrder({ originBase, linkDown, ring });
  }

  /** Is this relay's link to the origin at `originUrl` taken as broken? */
  originLinkDown(originUrl: string): boolean {
    return this.breaker.isOpen(baseOf(originUrl));
  }

  /** Origin links this relay currently takes as broken (the breaker is open). */
  originLinksDown(): number {
    return this.breaker.openCount;
  }

  /** Aborts every running fill (their viewers see errors); used at close. */
  abortAll(): void {
    this.closing.abort();
    this.breaker.close();
    for (const abort of [...this.aborts]) abort();
  }

  /**
   * A hop request wants `entry`, a fill now waiting on a peer. Joining it could wait on the very relay
   * that asks, so the fill gives that peer (and any after it) up for the origin, and the hop request
   * joins it there: one origin fetch for both. The peer that asked gave up on the relays before us
   * already, so ours would most likely fail too. False when that cannot be done: the peer has answered
   * already, no origin comes after, or the fill is between sources.
   */
  toOrigin(entry: CacheEntry): boolean {
    const giveUp = this.onPeer.get(entry);
    if (!giveUp || entry.state !== 'pending') return false;
    // The abort settles the attempt at once, and marks the fill origin-only before this returns.
    giveUp();
    return entry.originOnly;
  }

  /**
   * One fill, top to bottom: each source in order until one settles it. No source at all is a hop
   * request while our origin link is failing (see the breaker).
   */
  private async fill(entry: CacheEntry, req: FillRequest, sources: readonly FillSource[]): Promise<void> {
    let lastError = new RingcastError(sources.length === 0 ? 'RC_ORIGIN_LINK_DOWN' : 'RC_UPSTREAM_FAILED');
    for (let i = 0; i < sources.length && !this.closing.signal.aborted; i++) {
      const source = sources[i]!;
      const outcome = await this.tryOne(
        entry,
        req,
        source,
        source.kind === 'peer' && originAfter(sources, i),
      );
      if (!outcome) continue;
      this.note(req, source, outcome);
      switch (fillStep(outcome)) {
        case 'complete':
          return this.complete(entry, source, outcome);
        case 'fail':
          return this.finish(entry, outcomeError(outcome) ?? lastError);
        case 'origin': {
          // Given up for the origin (see toOrigin): the peers before it are skipped.
          const origin = sources.findIndex((x, j) => j > i && x.kind === 'origin');
          i = (origin < 0 ? sources.length : origin) - 1;
          break;
        }
        case 'next':
          lastError = outcomeError(outcome) ?? lastError;
      }
    }
    this.finish(entry, this.closing.signal.aborted ? new RingcastError('RC_SHUTTING_DOWN') : lastError);
  }

  /** One source for one fill: its outcome, or undefined when a peer that cannot be verified is skipped. */
  private async tryOne(
    entry: CacheEntry,
    req: FillRequest,
    source: FillSource,
    canGiveUp: boolean,
  ): Promise<AttemptOutcome | undefined> {
    // While this fill waits on the origin only, a hop request may join it without a loop (set before
    // any wait below, so a hop never joins a fill about to go to a peer).
    entry.originOnly = source.kind === 'origin';
    const expected = await this.expected(req.path, source);
    if (expected === 'skip' || this.closing.signal.aborted) return undefined;
    return this.request(entry, req, source, expected, canGiveUp);
  }

  /**
   * What a peer's bytes must match. A peer's segment is only taken when it can be verified: a segment
   * asked for before its announcement reached us (it is listed a moment before it is announced) waits
   * for the announcement event, briefly; then the peer is skipped, so one bad relay can never hand
   * unverified bytes to our viewers.
   */
  private async expected(path: LivePath, source: FillSource): Promise<Verification> {
    if (source.kind !== 'peer' || !path.rendition || path.kind === 'playlist') return undefined;
    if (path.kind === 'init') return initDigest(path.file);
    const { streamId, rendition, file } = path;
    if (path.kind !== 'segment' || isPartFile(file))
      return this.deps.cluster.announcement(streamId, rendition, file);
    const wait = { streamId, rendition, file, timeoutMs: ANNOUNCEMENT_WAIT_MS, signal: this.closing.signal };
    return (await awaitAnnouncement(this.deps.cluster, wait)) ?? 'skip';
  }

  /** One upstream request into `entry`, settled with its outcome; `canGiveUp`: see toOrigin. */
  private request(
    entry: CacheEntry,
    req: FillRequest,
    source: FillSource,
    expected: Expected | undefined,
    canGiveUp: boolean,
  ): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      let abort = () => {};
      let givenUp = false;
      const attempt = new SourceAttempt(entry, source.id, source.kind === 'peer', expected, {
        // The peer answered: it is not waiting on us, and its bytes are on their way; no giving up now.
        responded: () => this.onPeer.delete(entry),
        settled: (outcome) => {
          this.aborts.delete(abort);
          this.onPeer.delete(entry);
          // Given up for the origin, not failed (unless bytes went out already).
          resolve(givenUp && fillStep(outcome) === 'next' ? { kind: 'givenUp' } : outcome);
        },
      });
      const call = upstreamCall(source, req, this.deps.config, this.deps.hopToken);
      const tlsAgent = this.deps.clusterTls?.agent;
      abort = requestUpstream(call.url, { ...call, agent: this.deps.agent, tlsAgent }, attempt);
      // Callbacks never run synchronously, so the abort is registered before any can remove it.
      this.aborts.add(abort);
      if (!canGiveUp) return;
      this.onPeer.set(entry, () => {
        givenUp = true;
        // The fill goes on at the origin (unless the relay is closing): a hop request may join it now.
        entry.originOnly = !this.closing.signal.aborted;
        abort();
      });
    });
  }

  /** Counts an outcome, tells the breaker what it says about the links, and logs a failure. */
  private note(req: FillRequest, source: FillSource, outcome: AttemptOutcome): void {
    const { metrics, log } = this.deps;
    metrics.upstreamFetches.inc({ source: source.kind, outcome: fetchLabel(outcome) });
    const originBase = baseOf(req.stream.originUrl);
    if (source.kind === 'origin') {
      const verdict = linkVerdict(outcome);
      if (verdict === 'works') this.breaker.succeeded(originBase);
      else if (verdict === 'broken') this.breaker.failed(originBase);
    } else if (outcome.kind === 'refused') this.breaker.peerRefused(source.id, originBase);
    else if (outcome.kind === 'ok') this.breaker.peerServed(source.id, originBase);
    const err = outcomeError(outcome);
    if (!err) return;
    if (outcome.kind === 'rejected' && outcome.reason === 'mismatch') metrics.verificationFailures.inc();
    metrics.upstreamErrors.inc({ source: source.kind, code: err.code });
    log.warn({ source: source.id, key: req.cacheKey, err: err.message }, 'upstream fetch failed');
  }

  /** Completes `entry` with a body, or with the origin's 404. */
  private complete(entry: CacheEntry, source: FillSource, outcome: AttemptOutcome): void {
    if (outcome.kind === 'ok') {
      entry.source = source.kind;
      this.finish(entry, undefined, outcome.sha256);
    } else {
      entry.start(404, 0);
      this.finish(entry, undefined);
    }
  }

  private finish(entry: CacheEntry, err: RingcastError | undefined, sha256 = ''): void {
    const { cache, config, cluster } = this.deps;
    if (err) entry.fail(err);
    else {
      // Segments and init sections only: playlists are replaced every playlistMaxAgeMs.
      const immutable = entry.path.kind === 'segment' || entry.path.kind === 'init';
      entry.complete(sha256, entry.status === 200 && immutable ? this.bodies.join : undefined);
      const { streamId } = entry.path;
      if (entry.status === 200 && !immutable) {
        cache.expire(entry, Date.now() + playlistTtlMs(config.playlistMaxAgeMs, cluster, streamId));
        if (entry.path.kind === 'playlist') this.deps.onPlaylist?.(entry);
      } else if (entry.status === 404) {
        // The origin's word that the name is missing: a flood of the same name costs one fetch per TTL.
        cache.expire(entry, Date.now() + notFoundTtlMs(entry.path, cluster));
      }
    }
    // Errors are never cached; waiting viewers got them through their listeners.
    if (entry.state !== 'complete') cache.remove(entry);
    cache.unpin(entry);
  }
}
