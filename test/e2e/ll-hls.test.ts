import test from 'ava';
import type { Page } from 'playwright-core';
import { launchChromium } from '../../harness/browser.ts';
import type { TestCluster } from '../../harness/cluster.ts';
import type { FfmpegRun } from '../../harness/ffmpeg.ts';
import {
  currentTime,
  describeWindow,
  failPageRelay,
  measureWindow,
  openPlayer,
  startRtmpCluster,
  statsOf,
} from '../../harness/latency.ts';
import { waitFor } from '../../harness/wait.ts';

// LL-HLS end to end: ffmpeg publishes over RTMP as OBS does (x264 zerolatency, 2 s keyframes, 30 fps),
// the origin serves 200 ms parts, and Debian's Chromium plays the demo page through the relays.
// Latency is the page's: now minus hls.playingDate (#EXT-X-PROGRAM-DATE-TIME, stamped at ingest).

const LIMIT_SEC = 2;
let c: TestCluster;
let publisher: FfmpegRun;
let browser: Awaited<ReturnType<typeof launchChromium>>;
/** The page the first test leaves playing on a surviving relay, for the second. */
let livePage: Page | undefined;

test.before(async () => {
  // Steering reloads an hour apart: a page leaves a failed relay only through its own error handling
  // (what these tests are about), never because a steering reload happened to drop the relay first.
  ({ c, publisher } = await startRtmpCluster(true, 3, ['--steering-ttl-seconds', '3600']));
  browser = await launchChromium();
});

test.after.always(async () => {
  await browser?.close();
  publisher?.kill();
  await c?.stop();
});

test.serial(
  'LL-HLS through the relays: at or under 2 s behind live, no stall, also after a relay dies',
  async (t) => {
    const page = await openPlayer(browser, c, 'll-0');
    livePage = page;
    // Warm-up: the first 15 s of playback (start, catch-up from the start position to PART-HOLD-BACK).
    await waitFor(async () => (await currentTime(page)) > 15, {
      timeoutMs: 40_000,
      what: '15 s of playback',
    });
    const warm = await statsOf(page);
    t.true(warm.lowLatency, 'hls.js sees LL-HLS parts');
    t.true(
      warm.segments.some((s) => s.part !== null),
      'the page loads parts',
    );

    const steady = await measureWindow(page, 20);
    t.log(`LL-HLS steady: ${describeWindow(steady)}`);
    t.true(
      steady.p95 <= LIMIT_SEC,
      `steady p95 ${steady.p95} s: ${steady.samples.map((x) => x.toFixed(2)).join(' ')}`,
    );
    t.is(steady.stalls, 0, `stalled ${steady.stallMs} ms`);

    // Kill the relay that serves the page.
    const {
      victimId,
      before,
      moved,
      at: killedAt,
      movedMs,
    } = await failPageRelay(c, page, 'SIGKILL', 20_000);
    // The blocking reload in flight to the dead relay fails without an HTTP answer; the page moves to the
    // next relay on that first failure, keeping its rendition (player.js, RelayFailover), instead of
    // first trying another rendition on the dead relay.
    t.true(
      moved.relayFailovers > before.relayFailovers,
      `relay failovers ${before.relayFailovers} -> ${moved.relayFailovers}`,
    );
    const lastBefore = before.segments.at(-1)!;
    const firstAfter = moved.segments.find((s) => s.at > killedAt && s.relay !== victimId)!;
    t.is(firstAfter.rendition, lastBefore.rendition, 'the same rendition from the next relay');
    // Back under the limit (catch-up at 1.2x), then a window of steady playback.
    await waitFor(async () => ((await statsOf(page)).latencySec ?? 99) <= LIMIT_SEC, {
      timeoutMs: 30_000,
      what: `latency back under ${LIMIT_SEC} s`,
    });
    const recoveredMs = Date.now() - killedAt;
    const acrossKill = await statsOf(page);
    const after = await measureWindow(page, 10);
    t.log(
      `relay ${victimId} killed: page on another relay after ${movedMs} ms, latency back under ${LIMIT_SEC} s after ${recoveredMs} ms, ` +
        `stall across the kill ${Math.round(acrossKill.stallMs - before.stallMs)} ms (${acrossKill.stalls - before.stalls} stalls)`,
    );
    t.log(`LL-HLS after the kill: ${describeWindow(after)}`);
    t.true(
      after.p95 <= LIMIT_SEC,
      `p95 after the kill ${after.p95} s: ${after.samples.map((x) => x.toFixed(2)).join(' ')}`,
    );
    t.is(after.stalls, 0, `stalled ${after.stallMs} ms after the kill`);
    const fatal = (await statsOf(page)).errors.filter((e) => e.fatal);
    t.deepEqual(fatal, [], 'no fatal hls.js error');
  },
);

test.serial(
  'LL-HLS: a hung relay (SIGSTOP) loses the page within 5 s, and the page comes back near live',
  async (t) => {
    const page = livePage;
    if (!page) return t.fail('the first test left no page');
    // A stopped process keeps its listening socket: connections open, nothing is answered.
    const {
      victim,
      victimId,
      before,
      moved,
      at: stoppedAt,
      movedMs,
    } = await failPageRelay(c, page, 'SIGSTOP', 15_000);
    try {
      // The page's own timeouts moved it (a blocking reload, then a plain reload, both unanswered); with
      // hls.js's defaults it waited for a steering reload after the coordinator dropped the relay.
      t.true(
        moved.relayFailovers > before.relayFailovers,
        `relay failovers ${before.relayFailovers} -> ${moved.relayFailovers}`,
      );
      // The decision to move (the second unanswered playlist request) is what the player controls;
      // the first segment from the next relay follows it within tens of milliseconds (logged).
      const decidedMs = (moved.lastRelayFailoverAt ?? Number.POSITIVE_INFINITY) - stoppedAt;
      t.true(decidedMs <= 5000, `the page left the hung relay ${decidedMs} ms after SIGSTOP`);
      // hls.js adds 1 s to its target latency per stall (up to a target duration): back under 3 s.
      await waitFor(async () => ((await statsOf(page)).latencySec ?? 99) <= 3, {
        timeoutMs: 20_000,
        what: 'latency back under 3 s',
      });
      const backMs = Date.now() - stoppedAt;
      const back = await statsOf(page);
      const after = await measureWindow(page, 8);
      t.log(
        `relay ${victimId} stopped: left after ${decidedMs} ms, on another relay after ${movedMs} ms, stalled ${Math.round(back.stallMs - before.stallMs)} ms, ` +
          `latency back under 3 s after ${backMs} ms (${back.liveJumps - before.liveJumps} jumps to live)`,
      );
      t.log(`LL-HLS after the hang: ${describeWindow(after)}`);
      // A 3 s stall leaves playback about 2 s behind hls.js's target (which itself grew 1 s): the page
      // jumps back rather than leaving hls.js ten seconds of catching up at 1.2x.
      t.true(back.liveJumps > before.liveJumps, 'the page jumped back to live after the stall');
      t.true(after.p95 <= 3, `p95 after the hang ${after.p95} s`);
      t.is(after.stalls, 0, `stalled ${after.stallMs} ms after the hang`);
      t.deepEqual(
        (await statsOf(page)).errors.filter((e) => e.fatal),
        [],
        'no fatal hls.js error',
      );
    } finally {
      victim.child.kill('SIGKILL');
    }
  },
);
