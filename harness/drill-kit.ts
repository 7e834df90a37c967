export { freePort } from '../common/http.ts';

/**
 * Failure drills shared by the tests (test/drills/*.test.ts) and the simulator (bench/drills.ts): a
 * fault is injected while viewers watch, and the drill reports what the viewers saw, how long the
 * cluster took to recover and how many origin requests each published segment cost meanwhile.
 */

import { setMaxListeners } from 'node:events';
import type { TestCluster } from './cluster.ts';
import { type ReaderStats, readHls } from './hls-reader.ts';
import { getText, sumMetric, waitFor } from './wait.ts';

/** What the viewers of one drill saw, summed. */
export interface ViewerOutcome {
  viewers: number;
  segments: number;
  /** Requests that failed and were retried (playlists or segments, any cause). */
  failedRequests: number;
  /** Segments that arrived after the simulated playhead needed them: viewer-visible failures. */
  stalls: number;
  stallMs: number;
  /** Fewest segments any one viewer got. */
  minSegments: number;
  lastError?: string;
}

/** A running audience; `stop()` ends it and sums what it saw. */
export interface Audience {
  stop(): Promise<ViewerOutcome>;
}

export interface DrillResult {
  drill: string;
  viewers: ViewerOutcome;
  /** Fault injected → recovered (see each drill's `recovered`). */
  recoveryMs: number;
  /** Origin segment requests per published segment, from just before the fault to the end. */
  originRatio: number;
  published: number;
  notes: string[];
}

/** The player demo's hls.js time to first byte (player-demo/player.js): a hung relay costs a viewer this long. */
export const PLAYER_TIMEOUT_MS = 4000;

/** `n` in-process simulated viewers (hls-reader) entering through the coordinator. */
export function inProcessAudience(c: TestCluster, n: number, prefix: string): Audience {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const readers: Promise<ReaderStats>[] = Array.from({ length: n }, (_, i) =>
    readHls({
      masterUrl: `${c.coordinator.url}/live/demo/master.m3u8?session=${prefix}-${i}`,
      variant: i % 2,
      signal: controller.signal,
      requestTimeoutMs: PLAYER_TIMEOUT_MS,
    }),
  );
  return {
    stop: async () => {
      controller.abort();
      return sumViewers(await Promise.all(readers));
    },
  };
}

export function sumViewers(
  stats: { segments: number; errors: number; stalls: number; stallMs: number; lastError?: string }[],
): ViewerOutcome {
  return {
    viewers: stats.length,
    segments: stats.reduce((n, s) => n + s.segments, 0),
    failedRequests: stats.reduce((n, s) => n + s.errors, 0),
    stalls: stats.reduce((n, s) => n + s.stalls, 0),
    stallMs: stats.reduce((n, s) => n + s.stallMs, 0),
    minSegments: Math.min(...stats.map((s) => s.segments)),
    lastError: stats.find((s) => s.lastError)?.lastError,
  };
}

export async function originCounters(originUrl: string): Promise<{ published: number; requested: number }> {
  const text = await getText(`${originUrl}/metrics`);
  return {
    published: sumMetric(text, 'ringcast_origin_segments_published_total'),
    requested: sumMetric(text, 'ringcast_origin_segment_requests_total'),
  };
}

/** Newest segment URI (relative to the rendition) and its msn in an origin media playlist. */
export async function newestSegment(
  originUrl: string,
  rendition: string,
): Promise<{ msn: number; uri: string; size?: number }> {
  const text = await getText(`${originUrl}/live/demo/${rendition}/index.m3u8`);
  const seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
  const uris = text.split('\n').filter((l) => l && !l.startsWith('#'));
  return { msn: seq + uris.length - 1, uri: uris.at(-1) ?? '' };
}

/**
 * Origin segment GETs made by the drills' own checks (each segment read once): runDrill takes them out
 * of the origin requests it charges to the relays.
 */
let checkOriginGets = 0;
const originBytes = new Map<string, Buffer>();

async function originSegment(url: string): Promise<Buffer> {
  let bytes = originBytes.get(url);
  if (!bytes) {
    checkOriginGets++;
    const res = await fetch(url);
    if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
    bytes = Buffer.from(await res.arrayBuffer());
    originBytes.set(url, bytes);
  }
  return bytes;
}

/**
 * True once every relay in `relayUrls` serves a segment of every rendition that was published after
 * `afterMsn` (per rendition), with the origin's bytes.
 */
export async function servesFreshSegments(
  originUrl: string,
  relayUrls: string[],
  afterMsn: Map<string, number>,
): Promise<boolean> {
  for (const [rendition, msn] of afterMsn) {
    const newest = await newestSegment(originUrl, rendition);
    if (newest.msn <= msn) return false;
    const want = await originSegment(`${originUrl}/live/demo/${rendition}/${newest.uri}`);
    for (const relay of relayUrls) {
      const res = await fetch(`${relay}/live/demo/${rendition}/${newest.uri}`, {
        signal: AbortSignal.timeout(2000),
      });
      if (res.status !== 200) return false;
      if (!want.equals(Buffer.from(await res.arrayBuffer()))) return false;
    }
  }
  return true;
}

export async function renditions(c: TestCluster): Promise<string[]> {
  const view = await c.cluster();
  return view.streams.find((s) => s.id === 'demo')?.renditions.map((r) => r.name) ?? [];
}

export async function msnNow(c: TestCluster): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const r of await renditions(c)) out.set(r, (await newestSegment(c.origin.url, r)).msn);
  return out;
}

export interface DrillOptions {
  c: TestCluster;
  drill: string;
  audience: () => Audience;
  /** Causes the fault; resolves with the time recovery is measured from (default: when it resolved). */
  inject: () => Promise<number | undefined>;
  recovered: () => Promise<boolean>;
  recoveryTimeoutMs?: number;
  /** The origin's URL may change (a restarted origin); read it through this. */
  originUrl?: () => string;
}

type OriginCounters = Awaited<ReturnType<typeof originCounters>>;

/**
 * Origin segment requests per segment published between two readings, without `checkGets` (the
 * drills' own reads): what the relays cost the origin. 0 when nothing was published.
 */
export function originRatio(before: OriginCounters, after: OriginCounters, checkGets: number): number {
  const published = after.published - before.published;
  return published ? (after.requested - before.requested - checkGets) / published : 0;
}

/** Waits until the origin has published `more` segments past what it reports now. */
async function waitForPublished(originUrl: () => string, more: number, timeoutMs: number, what: string) {
  const start = await originCounters(originUrl());
  await waitFor(async () => (await originCounters(originUrl())).published >= start.published + more, {
    timeoutMs,
    what,
  });
}

/** Injects the fault and waits for recovery; recovery is timed from when the fault says it began. */
async function injectAndRecover(opts: DrillOptions): Promise<{ recoveryMs: number; notes: string[] }> {
  const notes: string[] = [];
  const injectedAt = Date.now();
  const from = (await opts.inject()) ?? Date.now();
  if (from !== injectedAt) notes.push(`fault lasted ${from - injectedAt} ms`);
  await waitFor(opts.recovered, {
    timeoutMs: opts.recoveryTimeoutMs ?? 30_000,
    intervalMs: 100,
    what: `${opts.drill}: recovery`,
  });
  return { recoveryMs: Date.now() - from, notes };
}

/**
 * Runs one drill: viewers watch, `inject` causes the fault (and ends it, for faults with a duration),
 * `recovered` is polled from then on; afterwards the viewers keep watching until 8 more segments were
 * published, so a late stall is still seen.
 */
export async function runDrill(opts: DrillOptions): Promise<DrillResult> {
  const originUrl = opts.originUrl ?? (() => opts.c.origin.url);
  const audience = opts.audience();
  try {
    await waitForPublished(originUrl, 4, 30_000, 'viewers warmed up (4 segments published)');
    const before = await originCounters(originUrl());
    const checksBefore = checkOriginGets;
    const { recoveryMs, notes } = await injectAndRecover(opts);
    await waitForPublished(originUrl, 8, 40_000, `${opts.drill}: 8 more segments after recovery`);
    const after = await originCounters(originUrl());
    const viewers = await audience.stop();
    return {
      drill: opts.drill,
      viewers,
      recoveryMs,
      originRatio: originRatio(before, after, checkOriginGets - checksBefore),
      published: after.published - before.published,
      notes,
    };
  } catch (err) {
    await audience.stop().catch(() => undefined);
    throw err;
  }
}

/** Formats drill results as a markdown table (docs/reliability.md, docs/benchmarks.md). */
export function drillTable(results: DrillResult[]): string {
  const head =
    '| drill | viewers | segments received | failed requests (retried) | stalls (viewer-visible) | recovery | origin requests / published segment |';
  const rows = results.map(
    (r) =>
      `| ${r.drill} | ${r.viewers.viewers} | ${r.viewers.segments} | ${r.viewers.failedRequests} | ${r.viewers.stalls} (${(r.viewers.stallMs / 1000).toFixed(1)} s) | ${(r.recoveryMs / 1000).toFixed(1)} s | ${r.originRatio.toFixed(2)} |`,
  );
  return [head, `|${'---|'.repeat(7)}`, ...rows].join('\n');
}
