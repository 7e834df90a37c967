import { isPartFile, type LivePath } from '../common/names.ts';
import { HOP_HEADER, type StreamInfo } from '../common/types.ts';
import type { ClusterSource } from './cluster-source.ts';
import type { RelayConfig } from './config.ts';
import type { Expected } from './source-attempt.ts';
import type { FillSource } from './source-order.ts';
import type { UpstreamTimeouts } from './upstream-request.ts';

// The rules of a fill that depend only on its request, config and stream: timeouts, digests, lifetimes.

/** An init section from a peer must hash to the digest prefix in its name (`init-1a2b3c4d.mp4`). */
export function initDigest(file: string): Expected | undefined {
  const m = /^init-([0-9a-f]{8})\.mp4$/.exec(file);
  return m ? { sha256Prefix: m[1] } : undefined;
}

/** What one fill asks of one source: the URL, headers, timeouts and the largest body it takes. */
export interface UpstreamCall {
  url: string;
  headers: Record<string, string>;
  timeouts: UpstreamTimeouts;
  maxBytes: number;
}

/** A fill's request as the policy reads it. */
type FillView = { query: string; path: LivePath; stream: StreamInfo };

/**
 * The request to `source` for a fill: a peer gets the hop token (docs/architecture.md, "The hop rule"),
 * and no body may take more than half the cache (a runaway upstream must not fill memory).
 */
export function upstreamCall(
  source: FillSource,
  req: FillView,
  config: RelayConfig,
  hopToken: string,
): UpstreamCall {
  const headers: Record<string, string> = { 'user-agent': 'ringcast-relay' };
  if (source.kind === 'peer') headers[HOP_HEADER] = hopToken;
  return {
    url: `${source.base}/live/${req.path.relPath}${req.query}`,
    headers,
    timeouts: upstreamTimeouts(config, req),
    maxBytes: Math.floor(config.cacheBytes / 2),
  };
}

/** Timeouts of one fill's upstream requests. */
export function upstreamTimeouts(config: RelayConfig, req: FillView): UpstreamTimeouts {
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
