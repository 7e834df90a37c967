/**
 * Glass-to-glass latency of the demo page, standard HLS beside LL-HLS: a 3-relay cluster fed over RTMP
 * as OBS feeds it (x264 zerolatency, 2 s keyframes, 30 fps, 320x180/160x90 ladder), one page in Debian's
 * Chromium playing through the relays; latency = now - hls.playingDate (#EXT-X-PROGRAM-DATE-TIME,
 * stamped at ingest), sampled every 500 ms after a 15 s warm-up, then again after the page's relay is
 * SIGKILLed (and the page is back under its steady p95 + 0.5 s); last the relay then serving it is SIGSTOPped.
 *   npm run bench:latency [-- --seconds 30]
 */
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { launchChromium } from '../harness/browser.ts';
import type { TestCluster } from '../harness/cluster.ts';
import {
  currentTime,
  failPageRelay,
  type LatencyWindow,
  measureWindow,
  openPlayer,
  startRtmpCluster,
  statsOf,
} from '../harness/latency.ts';
import { waitFor } from '../harness/wait.ts';
import { table, writeSection } from './lib/report.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '30' } } });
const SECONDS = Number(values.seconds);

interface Run {
  mode: string;
  steady: LatencyWindow;
  afterKill: LatencyWindow;
  killStallMs: number;
  recoverMs: number;
  /** SIGSTOP of the page's relay: time until a segment came from another relay, stall, latency 10 s on. */
  hang: { leftMs: number; stallMs: number; latencySec: number | null };
}

/** The page's relay SIGKILLed: the stall across it, time until latency is back, then a second window. */
async function killPageRelay(c: TestCluster, page: Page, steady: LatencyWindow) {
  const { before, at: killedAt } = await failPageRelay(c, page, 'SIGKILL', 60_000);
  await waitFor(async () => ((await statsOf(page)).latencySec ?? 99) <= steady.p95 + 0.5, {
    timeoutMs: 60_000,
    what: 'latency back',
  });
  const recoverMs = Date.now() - killedAt;
  const mid = await statsOf(page);
  const afterKill = await measureWindow(page, Math.max(10, SECONDS / 2));
  return { afterKill, killStallMs: Math.round(mid.stallMs - before.stallMs), recoverMs };
}

/** A hung relay: the process keeps its listening socket, nothing is answered. */
async function hangPageRelay(c: TestCluster, page: Page): Promise<Run['hang']> {
  const hung = await failPageRelay(c, page, 'SIGSTOP', 30_000);
  try {
    await new Promise((r) => setTimeout(r, 10_000));
    const afterHang = await statsOf(page);
    return {
      leftMs: hung.movedMs,
      stallMs: Math.round(afterHang.stallMs - hung.before.stallMs),
      latencySec: afterHang.latencySec,
    };
  } finally {
    hung.victim.child.kill('SIGKILL');
  }
}

async function run(lowLatency: boolean): Promise<Run> {
  const { c, publisher } = await startRtmpCluster(lowLatency);
  const browser = await launchChromium();
  try {
    const page = await openPlayer(browser, c, `bench-${lowLatency ? 'll' : 'std'}`);
    await waitFor(async () => (await currentTime(page)) > 15, { timeoutMs: 60_000, what: 'warm-up' });
    const steady = await measureWindow(page, SECONDS);
    const kill = await killPageRelay(c, page, steady);
    const hang = await hangPageRelay(c, page);
    return {
      mode: lowLatency ? 'LL-HLS (200 ms parts)' : 'standard HLS (2 s segments)',
      steady,
      ...kill,
      hang,
    };
  } finally {
    await browser.close();
    publisher.kill();
    await c.stop();
  }
}

const f = (x: number) => x.toFixed(2);

/** One run's row of the table. */
function runRow(r: Run): (string | number)[] {
  return [
    r.mode,
    f(r.steady.p50),
    f(r.steady.p95),
    f(r.steady.max),
    `${r.steady.stalls} (${r.steady.stallMs} ms)`,
    `${r.killStallMs} ms`,
    (r.recoverMs / 1000).toFixed(1),
    f(r.afterKill.p50),
    f(r.afterKill.p95),
    `${r.afterKill.stalls} (${r.afterKill.stallMs} ms)`,
    (r.hang.leftMs / 1000).toFixed(1),
    `${r.hang.stallMs} ms`,
    r.hang.latencySec === null ? '—' : f(r.hang.latencySec),
  ];
}

async function main(): Promise<void> {
  const runs = [await run(false), await run(true)];
  const md = latencySection(runs.map(runRow));
  writeSection('latency', md);
  console.log(md);
}

/** The `latency` section of docs/benchmarks.md: a template, which reads better whole than cut up. */
function latencySection(rows: (string | number)[][]): string {
  return `## Latency: standard HLS beside LL-HLS

\`npm run bench:latency -- --seconds ${SECONDS}\` (${new Date().toISOString().slice(0, 10)}). A 3-relay cluster fed over RTMP as OBS feeds it
(ffmpeg: x264 veryfast zerolatency, 2 s keyframes, 30 fps; origin ladder 320x180/160x90), one demo page
in Debian's Chromium (hls.js 1.7) playing through the relays. Latency = wall clock - \`hls.playingDate\`
(\`#EXT-X-PROGRAM-DATE-TIME\`, stamped at ingest: encoder output to screen), sampled every 500 ms for
${SECONDS} s after a 15 s warm-up; then the relay serving the page is SIGKILLed, and once the page is
back within 0.5 s of its steady p95 a second window of ${Math.max(10, SECONDS / 2)} s is sampled. Last, the relay then
serving the page is SIGSTOPped (hung: connections open, nothing answered): the time until a segment
comes from another relay, the stall across it, and the latency 10 s after. Seconds unless noted.

${table(
  [
    'mode',
    'p50',
    'p95',
    'max',
    'stalls',
    'stall across the kill',
    'back after kill (s)',
    'p50 after kill',
    'p95 after kill',
    'stalls after kill',
    'hung relay left after',
    'stall across the hang',
    'latency 10 s after the hang',
  ],
  rows,
)}

Standard HLS plays 3 s behind the newest complete segment (\`liveSyncDuration: 3\`); LL-HLS plays
PART-HOLD-BACK (3 × 0.23 s) behind the newest part, catching up at up to 1.2x. A killed relay refuses
connections and the page moves on the first failure; a hung one is left after two unanswered playlist
requests (LL-HLS: a 1.6 s blocking reload, then a 2 s plain one) or when a steering reload (TTL 5 s)
no longer lists it, 3 s after its heartbeats stop, whichever comes first (docs/player.md, Failover).`;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
