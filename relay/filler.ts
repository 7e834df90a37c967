import { createHash } from 'node:crypto';
import type { Agent, IncomingHttpHeaders } from 'node:http';
import { RingcastError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { isPartFile, type LivePath } from '../common/names.ts';
import { HOP_HEADER, type StreamInfo } from '../common/types.ts';
import { CacheEntry } from './cache-entry.ts';
import type { ClusterSource } from './cluster-source.ts';
import type { RelayConfig } from './config.ts';
import type { RelayMetrics } from './relay-metrics.ts';
import type { SegmentCache } from './segment-cache.ts';
import { requestUpstream, type UpstreamTimeouts } from './upstream-request.ts';

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

  constructor(private readonly deps: FillerDeps) {}

  /** Starts filling a new entry; `cached` entries go into the cache, others serve one request. */
  start(req: FillRequest, cached: boolean): CacheEntry {
    const sources = this.sources(req);
    const entry = new CacheEntry(req.cacheKey, req.path, sources.length === 1);
    if (cached) this.deps.cache.add(entry);
    this.deps.cache.pin(entry);
    this.attempt(entry, req, sources, 0, undefined);
    return entry;
  }

  /** Upstream order for a request (DESIGN.md, Fill). */
  sources(req: FillRequest): FillSource[] {
    const origin: FillSource = {
      kind: 'origin',
      id: 'origin',
      base: req.stream.originUrl.replace(/\/+$/, ''),
    };
    if (req.hop) return [origin];
    const self = this.deps.selfId();
    const ring = this.deps.cluster.ring();
    const candidates = ring.candidates(req.path.ringKey, this.deps.config.peerAttempts + 1);
    if (candidates.length === 0 || candidates[0]!.id === self) return [origin];
    const peers = candidates
      .filter((r) => r.id !== self)
      .slice(0, this.deps.config.peerAttempts)
      .map((r): FillSource => ({ kind: 'peer', id: r.id, base: r.url.replace(/\/+$/, '') }));
    return [...peers, origin];
  }

  /** Aborts every running fill (their viewers see errors); used at close. */
  abortAll(): void {
    for (const abort of [...this.aborts]) abort();
  }

  private attempt(
    entry: CacheEntry,
    req: FillRequest,
    sources: FillSource[],
    index: number,
    lastError: RingcastError | undefined,
  ): void {
    const source = sources[index];
    if (!source) {
      this.finish(entry, lastError ?? new RingcastError('RC_UPSTREAM_FAILED'));
      return;
    }
    const { metrics, log } = this.deps;
    const { path } = req;
    const announced =
      source.kind === 'peer' && path.rendition && path.kind !== 'playlist'
        ? this.deps.cluster.announcement(path.streamId, path.rendition, path.file)
        : undefined;
    const hash = createHash('sha256');
    const held: Buffer[] = [];
    let heldBytes = 0;
    const next = (err: RingcastError, outcome: string) => {
      metrics.upstreamFetches.inc({ source: source.kind, outcome });
      metrics.upstreamErrors.inc({ source: source.kind, code: err.code });
      log.warn({ source: source.id, key: req.cacheKey, err: err.message }, 'upstream failed, trying next');
      this.attempt(entry, req, sources, index + 1, err);
    };
    const mismatch = (why: string) => {
      metrics.verificationFailures.inc();
      next(
        new RingcastError('RC_UPSTREAM_FAILED', `peer ${source.id} sent a bad segment: ${why}`),
        'mismatch',
      );
    };
    const headers: Record<string, string> = { 'user-agent': 'ringcast-relay' };
    if (source.kind === 'peer') headers[HOP_HEADER] = '1';
    const abort = requestUpstream(
      `${source.base}/live/${path.relPath}${req.query}`,
      { agent: this.deps.agent, headers, timeouts: this.timeouts(req) },
      {
        onResponse: (status: number, resHeaders: IncomingHttpHeaders) => {
          const length =
            resHeaders['content-length'] === undefined ? undefined : Number(resHeaders['content-length']);
          if (status === 200) {
            if (announced && length !== undefined && length !== announced.size) {
              this.aborts.delete(abort);
              mismatch(`size ${length}, announced ${announced.size}`);
              return false;
            }
            if (!announced) entry.start(200, length);
            return true;
          }
          this.aborts.delete(abort);
          // A peer's 404 may only mean its view of the stream lags: the origin has the last word.
          if (status === 404 && source.kind === 'peer') {
            next(new RingcastError('RC_NOT_FOUND', `${source.id} has no ${path.relPath}`), 'not_found');
            return false;
          }
          if (status === 404) {
            metrics.upstreamFetches.inc({ source: source.kind, outcome: 'not_found' });
            entry.start(404, 0);
            this.finish(entry, undefined);
            return false;
          }
          next(new RingcastError('RC_UPSTREAM_FAILED', `${source.id} answered HTTP ${status}`), 'bad_status');
          return false;
        },
        onData: (chunk: Buffer) => {
          hash.update(chunk);
          if (!announced) entry.push(chunk);
          else {
            held.push(chunk);
            heldBytes += chunk.length;
          }
        },
        onEnd: () => {
          this.aborts.delete(abort);
          const sha256 = hash.digest('hex');
          if (announced) {
            if (heldBytes !== announced.size)
              return mismatch(`size ${heldBytes}, announced ${announced.size}`);
            if (sha256 !== announced.sha256) return mismatch('sha256 differs from the announcement');
            entry.start(200, heldBytes);
            entry.push(held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes));
          }
          metrics.upstreamFetches.inc({ source: source.kind, outcome: 'ok' });
          entry.source = source.kind;
          this.finish(entry, undefined, sha256);
        },
        onError: (err: RingcastError) => {
          this.aborts.delete(abort);
          // Bytes already went out to viewers: this fill cannot switch sources mid-body.
          if (entry.state === 'streaming') {
            metrics.upstreamFetches.inc({ source: source.kind, outcome: outcomeOf(err) });
            metrics.upstreamErrors.inc({ source: source.kind, code: err.code });
            log.warn({ source: source.id, key: req.cacheKey, err: err.message }, 'upstream failed mid-body');
            this.finish(entry, err);
          } else next(err, outcomeOf(err));
        },
      },
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
    return {
      connectTimeoutMs: config.connectTimeoutMs,
      firstByteTimeoutMs: blocking ? config.blockingTimeoutMs : config.firstByteTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
    };
  }
}

function outcomeOf(err: RingcastError): string {
  return err.code === 'RC_UPSTREAM_TIMEOUT' ? 'timeout' : 'error';
}

/** Playlist lifetime: the configured age, kept under half the stream's target duration. */
export function playlistTtlMs(maxAgeMs: number, cluster: ClusterSource, streamId: string): number {
  const target = cluster.stream(streamId)?.targetDuration;
  return target ? Math.min(maxAgeMs, Math.max(0, (target * 1000) / 2 - 1)) : maxAgeMs;
}
