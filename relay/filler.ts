import type { Agent } from 'node:http';
import { RingcastError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { isPartFile, type LivePath } from '../common/names.ts';
import { HOP_HEADER, type StreamInfo } from '../common/types.ts';
import { CacheEntry } from './cache-entry.ts';
import type { ClusterSource } from './cluster-source.ts';
import type { RelayConfig } from './config.ts';
import { OriginBreaker } from './origin-breaker.ts';
import type { RelayMetrics } from './relay-metrics.ts';
import type { SegmentCache } from './segment-cache.ts';
import { type Expected, SourceAttempt } from './source-attempt.ts';
import { requestUpstream, type UpstreamTimeouts } from './upstream-request.ts';
import { ZERO_COPY_MIN_BYTES, type ZeroCopy, type ZeroCopyBody } from './zero-copy.ts';

/**
 * A peer that refused a hop request because its link to the origin is failing (502 with
 * `X-Ringcast-Error: RC_ORIGIN_LINK_DOWN`) is skipped this long for that origin's streams, so every
 * relay's fill goes to the members after it at once, and they all meet on one origin fetch.
 */
const PEER_REFUSED_MS = 5000;

/** How long a peer fill of a not-yet-announced segment waits for the announcement. */
const ANNOUNCEMENT_WAIT_MS = 1000;

/** An init section from a peer must hash to the digest prefix in its name (`init-1a2b3c4d.mp4`). */
function initDigest(file: string): Expected | undefined {
  const m = /^init-([0-9a-f]{8})\.mp4$/.exec(file);
  return m ? { sha256Prefix: m[1] } : undefined;
}

/** A base URL without trailing slashes: how origins are keyed (breaker, refusals) and joined to paths. */
const baseOf = (url: string): string => url.replace(/\/+$/, '');

/** Key of `refusedBy`: a peer refuses for lack of a link to one origin. */
const refusalKey = (peerId: string, originBase: string): string => `${peerId} ${originBase}`;

/** One place a fill may come from. */
export interface FillSource {
  kind: 'origin' | 'peer';
  id: string;
  /** Base URL (`http://host:port`). */
  base: string;
}

export interface FillerDeps {
  config: RelayConfig;
  cluster: ClusterSource;
  cache: SegmentCache;
  agent: Agent;
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
 * from a peer), otherwise the owner, the next ring members, then the origin. One upstream request
 * per entry however many viewers wait; bytes are published to them as they arrive, except for a
 * peer fill that can be verified against its announcement, which is held until its digest matches.
 */
export class Filler {
  private readonly aborts = new Set<() => void>();
  private closed = false;
  /** Origin links taken as broken: owner fills go to the next ring member first, hop requests fail. */
  private readonly breaker: OriginBreaker;
  /** Fills now waiting on a peer, each with a way to give that peer up for the origin (see toOrigin). */
  private readonly onPeer = new Map<CacheEntry, () => void>();
  /**
   * Peers that refused a hop request lately for lack of a link to an origin (`<peer id> <origin>`, see
   * PEER_REFUSED_MS): until when they are skipped for that origin's streams.
   */
  private readonly refusedBy = new Map<string, number>();
  /**
   * A process that was frozen (SIGSTOP, a long GC, a starved VM) sees every running upstream timer
   * expire at once when it wakes: those timeouts say nothing about the link. A 250 ms tick notes when
   * the event loop last ran 2.5 s late (load alone rarely does that).
   */
  private lastTick = Date.now();
  private frozenAt = 0;
  private readonly ticker = setInterval(() => this.tick(), 250).unref();

  /**
   * A complete body of ZERO_COPY_MIN_BYTES or more in a memfd region; undefined (one Buffer) without
   * zero-copy, for small bodies, or when no region can be had (logged once: descriptors or memory ran out).
   */
  private readonly joinBody = (chunks: readonly Buffer[], size: number): ZeroCopyBody | undefined => {
    const { zeroCopy, log } = this.deps;
    if (!zeroCopy || size < ZERO_COPY_MIN_BYTES) return undefined;
    try {
      const body = zeroCopy.join(chunks, size);
      this.joinFailed = false;
      return body;
    } catch (err) {
      if (!this.joinFailed)
        log.warn(
          { err: (err as Error).message },
          'zero-copy region failed; plain buffers until it works again',
        );
      this.joinFailed = true;
      return undefined;
    }
  };
  private joinFailed = false;

  constructor(private readonly deps: FillerDeps) {
    const { config, log } = deps;
    this.breaker = new OriginBreaker({
      probeAfterMs: config.originBreakerMs,
      probeTimeoutMs: config.connectTimeoutMs + config.firstByteTimeoutMs,
      log,
    });
  }

  /** Starts filling a new entry; `cached` entries go into the cache, others serve one request. */
  start(req: FillRequest, cached: boolean): CacheEntry {
    const sources = this.sources(req);
    const entry = new CacheEntry(req.cacheKey, req.path);
    if (cached) this.deps.cache.add(entry);
    this.deps.cache.pin(entry);
    // No source: a hop request while our origin link is failing (see breaker).
    const why = sources.length === 0 ? new RingcastError('RC_ORIGIN_LINK_DOWN') : undefined;
    this.attempt(entry, req, sources, 0, why);
    return entry;
  }

  /** Upstream order for a request (docs/architecture.md, The hop rule). */
  sources(req: FillRequest): FillSource[] {
    const origin: FillSource = {
      kind: 'origin',
      id: 'origin',
      base: baseOf(req.stream.originUrl),
    };
    const down = this.breaker.isOpen(origin.base);
    // A peer asks us because its own way failed: answering "no" at once beats a timeout.
    if (req.hop) return down ? [] : [origin];
    const self = this.deps.selfId();
    const ring = this.deps.cluster.ring();
    const { peerAttempts } = this.deps.config;
    const candidates = ring.candidates(req.path.ringKey, peerAttempts + 2);
    if (candidates.length === 0) return [origin];
    const peer = (r: { id: string; url: string }): FillSource => ({
      kind: 'peer',
      id: r.id,
      base: baseOf(r.url),
    });
    // Members before this relay in the key's order: the owner first. The owner has none and fills from
    // the origin; every other relay asks those, then the origin. So after a failing owner the next member
    // goes to the origin itself, the one after that asks it first, and so on: every relay lands on the
    // same fill instead of each fetching for another.
    const mine = candidates.findIndex((r) => r.id === self);
    const ahead = (mine < 0 ? candidates : candidates.slice(0, mine))
      .filter((r) => !this.refusedLately(r.id, origin.base))
      .slice(0, peerAttempts)
      .map(peer);
    // One member after us fills over its own link (a hop request, which never goes on to another peer)
    // when our origin fetch fails, or first, while our link is taken as broken. Others only need it
    // when the link is down: their own origin fetch was the last resort.
    const next = candidates.find(
      (r, i) =>
        r.id !== self &&
        !this.refusedLately(r.id, origin.base) &&
        !ahead.some((a) => a.id === r.id) &&
        (mine < 0 || i > mine),
    );
    const behind = next ? [peer(next)] : [];
    if (mine === 0) return down ? [...behind, origin] : [origin, ...behind];
    return down ? [...ahead, ...behind, origin] : [...ahead, origin];
  }

  /** Did `peerId` refuse a hop for lack of a link to the origin at `originBase` lately? */
  private refusedLately(peerId: string, originBase: string): boolean {
    if (this.refusedBy.size === 0) return false;
    const key = refusalKey(peerId, originBase);
    const until = this.refusedBy.get(key);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.refusedBy.delete(key);
    return false;
  }

  /** Is this relay's link to the origin at `originUrl` taken as broken? */
  originLinkDown(originUrl: string): boolean {
    return this.breaker.isOpen(baseOf(originUrl));
  }

  /** Notes how a fill from the origin went: a link failure opens the breaker, success closes it. */
  private originOutcome(base: string, outcome: string): void {
    // A 4xx passed on is an answer about the request: the link works.
    if (outcome === 'ok' || outcome === 'not_found' || outcome === 'client_error')
      this.breaker.succeeded(base);
    else if (outcome === 'timeout' || outcome === 'error') {
      // Woken from a freeze (the tick has not run yet, or ran late just now): not the link's fault.
      this.tick();
      if (Date.now() - this.frozenAt >= 2000) this.breaker.failed(base);
    }
  }

  /** Origin links this relay currently takes as broken (the breaker is open). */
  originLinksDown(): number {
    return this.breaker.openCount;
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.lastTick > 2500) this.frozenAt = now;
    this.lastTick = now;
  }

  /** Aborts every running fill (their viewers see errors); used at close. */
  abortAll(): void {
    clearInterval(this.ticker);
    this.closed = true;
    this.breaker.close();
    for (const abort of [...this.aborts]) abort();
  }

  private attempt(
    entry: CacheEntry,
    req: FillRequest,
    sources: FillSource[],
    index: number,
    lastError: RingcastError | undefined,
    waitedMs = 0,
  ): void {
    const source = sources[index];
    if (this.closed || !source) {
      this.finish(
        entry,
        this.closed
          ? new RingcastError('RC_SHUTTING_DOWN')
          : (lastError ?? new RingcastError('RC_UPSTREAM_FAILED')),
      );
      return;
    }
    // While this fill waits on the origin only, a hop request may join it without a loop (set before
    // any wait below, so a hop never joins a fill about to go to a peer).
    entry.originOnly = source.kind === 'origin';
    const { metrics, log } = this.deps;
    const { path } = req;
    const announced: Expected | undefined =
      source.kind !== 'peer' || !path.rendition || path.kind === 'playlist'
        ? undefined
        : path.kind === 'init'
          ? initDigest(path.file)
          : this.deps.cluster.announcement(path.streamId, path.rendition, path.file);
    // A peer's segment is only taken when it can be verified: a segment asked for before its announcement
    // reached us (it is listed a moment before it is announced) waits for the announcement, briefly; then
    // the peer is skipped, so one bad relay can never hand unverified bytes to our viewers.
    if (source?.kind === 'peer' && !announced && path.kind === 'segment' && !isPartFile(path.file)) {
      if (waitedMs < ANNOUNCEMENT_WAIT_MS) {
        const t = setTimeout(() => this.attempt(entry, req, sources, index, lastError, waitedMs + 20), 20);
        t.unref();
        return;
      }
      this.attempt(entry, req, sources, index + 1, lastError);
      return;
    }
    const refused = refusalKey(source.id, baseOf(req.stream.originUrl));
    const fetched = (outcome: string) => {
      metrics.upstreamFetches.inc({ source: source.kind, outcome });
      if (source.kind === 'origin') this.originOutcome(source.base, outcome);
      else if (outcome === 'refused') this.refusedBy.set(refused, Date.now() + PEER_REFUSED_MS);
      else if (outcome === 'ok') this.refusedBy.delete(refused);
    };
    const failed = (err: RingcastError, outcome: string) => {
      fetched(outcome);
      metrics.upstreamErrors.inc({ source: source.kind, code: err.code });
      log.warn({ source: source.id, key: req.cacheKey, err: err.message }, 'upstream fetch failed');
    };
    let abort = () => {};
    let givenUp = false;
    const originAfter = sources.findIndex((x, i) => i > index && x.kind === 'origin');
    const settle = () => {
      this.aborts.delete(abort);
      this.onPeer.delete(entry);
    };
    const attempt = new SourceAttempt(entry, source.id, source.kind === 'peer', announced, {
      // The peer answered: it is not waiting on us, and its bytes are on their way; no giving up now.
      responded: () => this.onPeer.delete(entry),
      done: (sha256) => {
        settle();
        fetched('ok');
        entry.source = source.kind;
        this.finish(entry, undefined, sha256);
      },
      notFound: () => {
        settle();
        fetched('not_found');
        entry.start(404, 0);
        this.finish(entry, undefined);
      },
      next: (err, outcome, mismatch) => {
        settle();
        if (givenUp) {
          // Given up for the origin (see toOrigin), not failed.
          metrics.upstreamFetches.inc({ source: source.kind, outcome: 'given_up' });
          this.attempt(entry, req, sources, originAfter, err);
          return;
        }
        if (mismatch) metrics.verificationFailures.inc();
        failed(err, outcome);
        this.attempt(entry, req, sources, index + 1, err);
      },
      failed: (err, outcome) => {
        settle();
        failed(err, outcome ?? (err.code === 'RC_UPSTREAM_TIMEOUT' ? 'timeout' : 'error'));
        this.finish(entry, err);
      },
    });
    const headers: Record<string, string> = { 'user-agent': 'ringcast-relay' };
    if (source.kind === 'peer') headers[HOP_HEADER] = this.deps.hopToken;
    const url = `${source.base}/live/${path.relPath}${req.query}`;
    const maxBytes = Math.floor(this.deps.config.cacheBytes / 2);
    abort = requestUpstream(
      url,
      { agent: this.deps.agent, headers, timeouts: this.timeouts(req), maxBytes },
      attempt,
    );
    // Callbacks never run synchronously, so the abort is registered before any can remove it.
    this.aborts.add(abort);
    if (source.kind === 'peer' && originAfter > index) {
      this.onPeer.set(entry, () => {
        givenUp = true;
        abort();
      });
    }
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
    // The abort reports back synchronously and the fill starts on the origin before this returns.
    giveUp();
    return entry.originOnly;
  }

  private finish(entry: CacheEntry, err: RingcastError | undefined, sha256 = ''): void {
    const { cache, config, cluster } = this.deps;
    if (err) entry.fail(err);
    else {
      // Segments and init sections only: playlists are replaced every playlistMaxAgeMs.
      const immutable = entry.path.kind === 'segment' || entry.path.kind === 'init';
      entry.complete(sha256, entry.status === 200 && immutable ? this.joinBody : undefined);
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

  private timeouts(req: FillRequest): UpstreamTimeouts {
    const { config } = this.deps;
    // A blocking playlist reload, or a part named by a preload hint, is held by the origin until it
    // exists: wait longer than the origin does.
    const blocking = req.query.includes('_HLS_msn') || isPartFile(req.path.file);
    // Never held longer than the origin holds (3 target durations, then its 503), plus a second.
    const target = req.stream.targetDuration;
    const blockingMs = target
      ? Math.min(config.blockingTimeoutMs, target * 3000 + 1000)
      : config.blockingTimeoutMs;
    return {
      connectTimeoutMs: config.connectTimeoutMs,
      firstByteTimeoutMs: blocking ? blockingMs : config.firstByteTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
    };
  }
}

/**
 * How long the origin's 404 is kept: a quarter of the target duration, at most 1 s (a segment asked for
 * a moment early shows up within that); parts, which come every few hundred ms, 200 ms.
 */
export function notFoundTtlMs(path: LivePath, cluster: ClusterSource): number {
  if (isPartFile(path.file)) return NOT_FOUND_PART_TTL_MS;
  const target = cluster.stream(path.streamId)?.targetDuration;
  return target ? Math.min(NOT_FOUND_TTL_MS, (target * 1000) / 4) : NOT_FOUND_TTL_MS;
}

const NOT_FOUND_TTL_MS = 1000;
const NOT_FOUND_PART_TTL_MS = 200;

/** Playlist lifetime: the configured age, kept under half the stream's target duration. */
export function playlistTtlMs(maxAgeMs: number, cluster: ClusterSource, streamId: string): number {
  const target = cluster.stream(streamId)?.targetDuration;
  return target ? Math.min(maxAgeMs, Math.max(0, (target * 1000) / 2 - 1)) : maxAgeMs;
}
