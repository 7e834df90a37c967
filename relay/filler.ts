import type { Agent } from 'node:http';
import { RingcastError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { isPartFile, type LivePath } from '../common/names.ts';
import { HOP_HEADER, type StreamInfo } from '../common/types.ts';
import { CacheEntry } from './cache-entry.ts';
import type { ClusterSource } from './cluster-source.ts';
import type { RelayConfig } from './config.ts';
import type { RelayMetrics } from './relay-metrics.ts';
import type { SegmentCache } from './segment-cache.ts';
import { type Expected, SourceAttempt } from './source-attempt.ts';
import { requestUpstream, type UpstreamTimeouts } from './upstream-request.ts';

/** How long a peer fill of a not-yet-announced segment waits for the announcement. */
const ANNOUNCEMENT_WAIT_MS = 1000;

/** An init section from a peer must hash to the digest prefix in its name (`init-1a2b3c4d.mp4`). */
function initDigest(file: string): Expected | undefined {
  const m = /^init-([0-9a-f]{8})\.mp4$/.exec(file);
  return m ? { sha256Prefix: m[1] } : undefined;
}

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
  /**
   * Circuit breaker per origin base URL, open while this relay's link to it is taken as broken (a
   * connect error, reset or timeout). Meanwhile owner fills go to the next ring member first and hop
   * requests fail at once, so nobody waits out a timeout per fill. No viewer's fill tests the link
   * again: every `originBreakerMs` a probe (`GET /healthz`, any HTTP answer counts) does, and its
   * answer closes the breaker. The value is the pending probe's timer.
   */
  private readonly originDown = new Map<string, NodeJS.Timeout>();
  /**
   * A process that was frozen (SIGSTOP, a long GC, a starved VM) sees every running upstream timer
   * expire at once when it wakes: those timeouts say nothing about the link. A 250 ms tick notes when
   * the event loop last ran 2.5 s late (load alone rarely does that).
   */
  private lastTick = Date.now();
  private frozenAt = 0;
  private readonly ticker = setInterval(() => this.tick(), 250).unref();

  constructor(private readonly deps: FillerDeps) {}

  /** Starts filling a new entry; `cached` entries go into the cache, others serve one request. */
  start(req: FillRequest, cached: boolean): CacheEntry {
    const sources = this.sources(req);
    // An owner's fill may fall back to a peer, but only as a hop, which never waits on another peer:
    // a hop request may still join it without a loop.
    const entry = new CacheEntry(
      req.cacheKey,
      req.path,
      sources.length === 0 || sources[0]!.kind === 'origin',
    );
    if (cached) this.deps.cache.add(entry);
    this.deps.cache.pin(entry);
    // No source: a hop request while our origin link is failing (see originDown).
    const why =
      sources.length === 0 ? new RingcastError('RC_UPSTREAM_FAILED', 'origin link failing') : undefined;
    this.attempt(entry, req, sources, 0, why);
    return entry;
  }

  /** Upstream order for a request (DESIGN.md, Fill). */
  sources(req: FillRequest): FillSource[] {
    const origin: FillSource = {
      kind: 'origin',
      id: 'origin',
      base: req.stream.originUrl.replace(/\/+$/, ''),
    };
    const down = this.originDown.has(origin.base);
    // A peer asks us because its own way failed: answering "no" at once beats a timeout.
    if (req.hop) return down ? [] : [origin];
    const self = this.deps.selfId();
    const ring = this.deps.cluster.ring();
    const candidates = ring.candidates(req.path.ringKey, this.deps.config.peerAttempts + 1);
    if (candidates.length === 0) return [origin];
    const peer = (r: { id: string; url: string }): FillSource => ({
      kind: 'peer',
      id: r.id,
      base: r.url.replace(/\/+$/, ''),
    });
    // The owner fills from the origin; if its own link to the origin fails (refused, hung, 5xx), the
    // next ring member fills for it over that member's link (a hop request: origin only, never back).
    if (candidates[0]!.id === self) {
      const next = candidates[1] ? [peer(candidates[1])] : [];
      return down ? [...next, origin] : [origin, ...next];
    }
    // Others ask the ring members before them in the key's order, then the origin: the next member
    // after a failing owner goes to the origin itself, the one after that asks it first, and so on,
    // so every relay lands on the same fill instead of each fetching for another.
    const mine = candidates.findIndex((r) => r.id === self);
    const before = mine < 0 ? candidates : candidates.slice(0, mine);
    return [...before.slice(0, this.deps.config.peerAttempts).map(peer), origin];
  }

  /** Notes how a fill from the origin went: a link failure opens the breaker, success closes it. */
  private originOutcome(base: string, outcome: string): void {
    const ms = this.deps.config.originBreakerMs;
    if (outcome === 'ok' || outcome === 'not_found') this.closeBreaker(base);
    else if ((outcome === 'timeout' || outcome === 'error') && ms > 0 && !this.originDown.has(base)) {
      // Woken from a freeze (the tick has not run yet, or ran late just now): not the link's fault.
      this.tick();
      if (Date.now() - this.frozenAt < 2000 || this.closed) return;
      this.deps.log.warn(
        { origin: base, probeMs: ms },
        'origin link failing: ring peers first until it answers',
      );
      this.scheduleProbe(base);
    }
  }

  private scheduleProbe(base: string): void {
    const { config } = this.deps;
    const timer = setTimeout(() => {
      const timeoutMs = config.connectTimeoutMs + config.firstByteTimeoutMs;
      fetch(`${base}/healthz`, {
        signal: AbortSignal.timeout(timeoutMs),
        headers: { 'user-agent': 'ringcast-relay' },
      }).then(
        async (res) => {
          await res.body?.cancel();
          this.closeBreaker(base);
        },
        () => {
          if (this.originDown.get(base) === timer && !this.closed) this.scheduleProbe(base);
        },
      );
    }, config.originBreakerMs);
    timer.unref();
    this.originDown.set(base, timer);
  }

  private closeBreaker(base: string): void {
    const timer = this.originDown.get(base);
    if (!timer) return;
    clearTimeout(timer);
    this.originDown.delete(base);
    this.deps.log.info({ origin: base }, 'origin link answers again');
  }

  /** Origin links this relay currently takes as broken (the breaker is open). */
  originLinksDown(): number {
    return this.originDown.size;
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
    for (const timer of this.originDown.values()) clearTimeout(timer);
    this.originDown.clear();
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
    // While this fill waits on the origin only, a hop request may join it without a loop.
    entry.originOnly = source.kind === 'origin';
    const fetched = (outcome: string) => {
      metrics.upstreamFetches.inc({ source: source.kind, outcome });
      if (source.kind === 'origin') this.originOutcome(source.base, outcome);
    };
    const failed = (err: RingcastError, outcome: string) => {
      fetched(outcome);
      metrics.upstreamErrors.inc({ source: source.kind, code: err.code });
      log.warn({ source: source.id, key: req.cacheKey, err: err.message }, 'upstream fetch failed');
    };
    let abort = () => {};
    const settle = () => this.aborts.delete(abort);
    const attempt = new SourceAttempt(entry, source.id, source.kind === 'peer', announced, {
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
        if (mismatch) metrics.verificationFailures.inc();
        failed(err, outcome);
        this.attempt(entry, req, sources, index + 1, err);
      },
      failed: (err) => {
        settle();
        failed(err, err.code === 'RC_UPSTREAM_TIMEOUT' ? 'timeout' : 'error');
        this.finish(entry, err);
      },
    });
    const headers: Record<string, string> = { 'user-agent': 'ringcast-relay' };
    if (source.kind === 'peer') headers[HOP_HEADER] = '1';
    const url = `${source.base}/live/${path.relPath}${req.query}`;
    const maxBytes = Math.floor(this.deps.config.cacheBytes / 2);
    abort = requestUpstream(
      url,
      { agent: this.deps.agent, headers, timeouts: this.timeouts(req), maxBytes },
      attempt,
    );
    // Callbacks never run synchronously, so the abort is registered before any can remove it.
    this.aborts.add(abort);
  }

  private finish(entry: CacheEntry, err: RingcastError | undefined, sha256 = ''): void {
    const { cache, config } = this.deps;
    if (err) entry.fail(err);
    else {
      if (entry.status === 200 && (entry.path.kind === 'playlist' || entry.path.kind === 'master')) {
        entry.expiresAt =
          Date.now() + playlistTtlMs(config.playlistMaxAgeMs, this.deps.cluster, entry.path.streamId);
      }
      entry.complete(sha256);
    }
    // Errors and 404s are never cached; waiting viewers got them through their listeners.
    if (entry.state !== 'complete' || entry.status !== 200) cache.remove(entry);
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

/** Playlist lifetime: the configured age, kept under half the stream's target duration. */
export function playlistTtlMs(maxAgeMs: number, cluster: ClusterSource, streamId: string): number {
  const target = cluster.stream(streamId)?.targetDuration;
  return target ? Math.min(maxAgeMs, Math.max(0, (target * 1000) / 2 - 1)) : maxAgeMs;
}
