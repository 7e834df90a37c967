import type { Page } from 'playwright-core';
import type { PartProcess } from '../cli/part-process.ts';
import type { launchChromium } from './browser.ts';
import { startTestCluster, type TestCluster, waitForLive } from './cluster.ts';
import { type FfmpegRun, publishTestPattern } from './ffmpeg.ts';
import { waitFor } from './wait.ts';

/** `window.ringcastStats` of the player page (player-demo/player.js). */
export interface PageStats {
  playing: boolean;
  stalls: number;
  stallMs: number;
  latencySec: number | null;
  lowLatency: boolean;
  /** Failed requests with no HTTP answer that moved the page to the next relay at once. */
  relayFailovers: number;
  /** Wall-clock ms of the last such move. */
  lastRelayFailoverAt: number | null;
  /** LL-HLS: jumps back to the live sync position after a stall left playback more than 1 s behind target. */
  liveJumps: number;
  latencySamples: number[];
  segments: {
    sn: number;
    part: number | null;
    rendition: string;
    relay: string;
    cache: string;
    ms: number;
    at: number;
  }[];
  errors: { details: string; fatal: boolean; at: number }[];
}

/** Latency figures of one window of playback (samples every 500 ms, from hls.playingDate). */
export interface LatencyWindow {
  samples: number[];
  p50: number;
  p95: number;
  max: number;
  stalls: number;
  stallMs: number;
}

export const statsOf = (page: Page) =>
  page.evaluate(() => (window as unknown as { ringcastStats: PageStats }).ringcastStats);
export const currentTime = (page: Page) => page.evaluate(() => document.querySelector('video')!.currentTime);

export const quantile = (xs: readonly number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.POSITIVE_INFINITY;
};

/**
 * A cluster fed over RTMP the way OBS feeds it (x264 zerolatency, 2 s keyframes) at 30 fps, so LL-HLS
 * parts are 200 ms; `lowLatency` adds `--low-latency` to the origin.
 */
export async function startRtmpCluster(
  lowLatency: boolean,
  relays = 3,
  coordinatorArgs: string[] = [],
): Promise<{ c: TestCluster; publisher: FfmpegRun }> {
  const c = await startTestCluster({
    relays,
    source: 'rtmp',
    originArgs: ['--fps', '30', ...(lowLatency ? ['--low-latency'] : [])],
    coordinatorArgs,
  });
  const publisher = publishTestPattern(`${c.origin.rtmpUrl}/${c.streamKey}`, { fps: 30 });
  try {
    await waitForLive(c, 'demo', 2);
  } catch (err) {
    publisher.kill();
    await c.stop();
    throw err;
  }
  return { c, publisher };
}

/** Opens the player page of `demo` and waits until it plays. */
export async function openPlayer(
  browser: Awaited<ReturnType<typeof launchChromium>>,
  c: TestCluster,
  session: string,
): Promise<Page> {
  const page = await browser.context.newPage();
  await page.goto(`${c.coordinator.url}/player/?stream=demo&session=${session}`);
  await waitFor(async () => (await statsOf(page)).playing && (await currentTime(page)) > 1, {
    timeoutMs: 30_000,
    what: 'playback started',
  });
  return page;
}

/** Samples the page's latency every 500 ms for `seconds` of wall time. */
export async function measureWindow(page: Page, seconds: number): Promise<LatencyWindow> {
  const before = await statsOf(page);
  const samples: number[] = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const s = await statsOf(page);
    if (s.latencySec !== null) samples.push(s.latencySec);
    await new Promise((r) => setTimeout(r, 500));
  }
  const after = await statsOf(page);
  return {
    samples,
    p50: quantile(samples, 0.5),
    p95: quantile(samples, 0.95),
    max: Math.max(...samples),
    stalls: after.stalls - before.stalls,
    stallMs: Math.round(after.stallMs - before.stallMs),
  };
}

export const describeWindow = (w: LatencyWindow) =>
  `p50 ${w.p50.toFixed(2)} s, p95 ${w.p95.toFixed(2)} s, max ${w.max.toFixed(2)} s over ${w.samples.length} samples, ${w.stalls} stalls (${w.stallMs} ms)`;

/** What `failPageRelay` did: the relay it signalled, the page's stats before and once it had moved. */
export interface RelayFailure {
  victim: PartProcess;
  victimId: string;
  before: PageStats;
  moved: PageStats;
  /** When the signal was sent (Date.now()). */
  at: number;
  /** From the signal until a segment came from another relay. */
  movedMs: number;
}

/**
 * Sends `signal` (SIGKILL: dead, SIGSTOP: hung) to the relay that served the page's last segment and waits
 * until a segment comes from another relay. A stopped relay is left stopped: the caller kills it.
 */
export async function failPageRelay(
  c: TestCluster,
  page: Page,
  signal: 'SIGKILL' | 'SIGSTOP',
  timeoutMs: number,
): Promise<RelayFailure> {
  const before = await statsOf(page);
  const victimId = before.segments.at(-1)!.relay;
  const victim = c.relays.find((r) => r.id === victimId);
  if (!victim) throw new Error(`the page's relay ${victimId} is not one of the cluster's`);
  const at = Date.now();
  victim.child.kill(signal);
  await waitFor(async () => (await statsOf(page)).segments.some((s) => s.at > at && s.relay !== victimId), {
    timeoutMs,
    what: 'the page on another relay',
  });
  const movedMs = Date.now() - at;
  return { victim, victimId, before, moved: await statsOf(page), at, movedMs };
}
