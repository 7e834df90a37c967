import { isPartFile, type LivePath } from '../common/names.ts';
import type { StreamInfo } from '../common/types.ts';
import type { ClusterSource } from './cluster-source.ts';
import type { RelayConfig } from './config.ts';
import type { Expected } from './source-attempt.ts';
import type { UpstreamTimeouts } from './upstream-request.ts';

// The rules of a fill that depend only on its request, config and stream: timeouts, digests, lifetimes.

/** An init section from a peer must hash to the digest prefix in its name (`init-1a2b3c4d.mp4`). */
export function initDigest(file: string): Expected | undefined {
  const m = /^init-([0-9a-f]{8})\.mp4$/.exec(file);
  return m ? { sha256Prefix: m[1] } : undefined;
}

/** Timeouts of one fill's upstream requests. */
export function upstreamTimeouts(
  config: RelayConfig,
  req: { query: string; path: LivePath; stream: StreamInfo },
): UpstreamTimeouts {
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
