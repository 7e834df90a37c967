/**
 * Viewer simulator: N simulated HLS viewers (master from the coordinator, one rendition, playlist reload
 * per half target duration, every new segment fetched once, stalls counted by a playhead model) against
 * a real cluster on this machine: coordinator, origin with the test pattern, 4 relays. Loopback only,
 * bounded in time and count. Rewrites its section of docs/benchmarks.md and docs/viewers.png.
 *   npm run bench:viewers [-- --levels 100,1000 --seconds 30 --max 4000 --relays 4]
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startTestCluster, type TestCluster, waitForLive } from '../harness/cluster.ts';
import { getText, sumMetric } from '../harness/wait.ts';
import { plotPng } from './lib/plot.ts';
import { table, writeSection } from './lib/report.ts';
import { ViewerPool } from './lib/viewer-pool.ts';

const { values } = parseArgs({
  options: {
    levels: { type: 'string', default: '100,1000' },
    seconds: { type: 'string', default: '30' },
    max: { type: 'string', default: '4000' },
    step: { type: 'string', default: '1000' },
    relays: { type: 'string', default: '4' },
    'viewers-per-worker': { type: 'string', default: '500' },
  },
});
const SECONDS = Number(values.seconds);
const RELAYS = Number(values.relays);
const PER_WORKER = Number(values['viewers-per-worker']);

interface LevelResult {
  viewers: number;
  originPerSegment: number;
  published: number;
  maxMeanViewers: number;
  maxMeanBytes: number;
  ttfbP50: number;
  ttfbP99: number;
  segP99: number;
  stalls: number;
  stallMs: number;
  errors: number;
  relayCpuPer1000: number;
  relayRssMb: number;
  relayRssGrowthMbPer1000: number;
  originEgressMbps: number;
  relayEgressMbps: number;
  simulatorCpu: number;
}

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return 0;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const maxOverMean = (xs: number[]) => Math.max(...xs) / (xs.reduce((a, b) => a + b, 0) / xs.length || 1);

async function sample(c: TestCluster) {
  const origin = await getText(`${c.origin.url}/metrics`);
  const relays = await Promise.all(
    c.relays.map(async (r) => {
      const m = await getText(`${r.url}/metrics`);
      return {
        cpu: sumMetric(m, 'ringcast_relay_process_cpu_seconds_total'),
        rss: sumMetric(m, 'ringcast_relay_process_resident_memory_bytes'),
        bytes: sumMetric(m, 'ringcast_relay_bytes_served_total'),
      };
    }),
  );
  return {
    at: performance.now(),
    published: sumMetric(origin, 'ringcast_origin_segments_published_total'),
    requested: sumMetric(origin, 'ringcast_origin_segment_requests_total'),
    originBytes: sumMetric(origin, 'ringcast_origin_bytes_served_total'),
    relays,
  };
}

let baselineRss = 0;

async function runLevel(c: TestCluster, viewers: number): Promise<LevelResult> {
  const pool = new ViewerPool({
    masterUrl: `${c.coordinator.url}/live/demo/master.m3u8`,
    viewers,
    prefix: `sim-${viewers}`,
    workers: Math.ceil(viewers / PER_WORKER),
    rampMs: 2000,
  });
  pool.start();
  try {
    // Let the audience arrive and reach the live edge before measuring.
    await new Promise((r) => setTimeout(r, 4000));
    const before = await sample(c);
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const after = await sample(c);
    const run = await pool.stop();
    return summarise(viewers, before, after, run);
  } catch (err) {
    pool.kill();
    throw err;
  }
}

/** Viewers per relay (each counted on the relay that served most of its segments) and bytes per relay. */
function relayShares(viewers: Awaited<ReturnType<ViewerPool['stop']>>['viewers']) {
  const perRelayViewers = new Map<string, number>();
  const perRelayBytes = new Map<string, number>();
  for (const v of viewers) {
    const top = Object.entries(v.relaySegments).sort((a, b) => b[1] - a[1])[0]?.[0];
    if (top) perRelayViewers.set(top, (perRelayViewers.get(top) ?? 0) + 1);
    for (const [id, b] of Object.entries(v.relayBytes))
      perRelayBytes.set(id, (perRelayBytes.get(id) ?? 0) + b);
  }
  return { perRelayViewers, perRelayBytes };
}

function summarise(
  viewers: number,
  before: Awaited<ReturnType<typeof sample>>,
  after: Awaited<ReturnType<typeof sample>>,
  run: Awaited<ReturnType<ViewerPool['stop']>>,
): LevelResult {
  const { perRelayViewers, perRelayBytes } = relayShares(run.viewers);
  const elapsed = (after.at - before.at) / 1000;
  const published = after.published - before.published;
  const requested = after.requested - before.requested;
  const cpu = after.relays.reduce((n, r, i) => n + r.cpu - before.relays[i]!.cpu, 0) / elapsed;
  const rss = after.relays.reduce((n, r) => n + r.rss, 0);
  const relayBytes = after.relays.reduce((n, r, i) => n + r.bytes - before.relays[i]!.bytes, 0);
  for (const v of run.viewers) if (v.lastError) lastErrors.add(v.lastError);
  return {
    viewers,
    published,
    originPerSegment: published ? requested / published : 0,
    maxMeanViewers: maxOverMean([...perRelayViewers.values()]),
    maxMeanBytes: maxOverMean([...perRelayBytes.values()]),
    ttfbP50: quantile(run.ttfbMs, 0.5),
    ttfbP99: quantile(run.ttfbMs, 0.99),
    segP99: quantile(run.segmentMs, 0.99),
    stalls: run.viewers.reduce((n, v) => n + v.stalls, 0),
    stallMs: run.viewers.reduce((n, v) => n + v.stallMs, 0),
    errors: run.viewers.reduce((n, v) => n + v.errors, 0),
    relayCpuPer1000: (cpu / viewers) * 1000,
    relayRssMb: rss / 1024 / 1024,
    relayRssGrowthMbPer1000: ((rss - baselineRss) / 1024 / 1024 / viewers) * 1000,
    originEgressMbps: ((after.originBytes - before.originBytes) * 8) / elapsed / 1e6,
    relayEgressMbps: (relayBytes * 8) / elapsed / 1e6,
    simulatorCpu: run.simulatorCpu,
  };
}

const lastErrors = new Set<string>();

async function main(): Promise<void> {
  const c = await startTestCluster({ relays: RELAYS });
  const results: LevelResult[] = [];
  try {
    await waitForLive(c, 'demo', 3);
    baselineRss = (await sample(c)).relays.reduce((n, r) => n + r.rss, 0);
    for (const n of values.levels.split(',').map(Number)) {
      process.stdout.write(`${n} viewers…\n`);
      results.push(await runLevel(c, n));
      process.stdout.write(`${JSON.stringify(results.at(-1))}\n`);
    }
    // Ramp past the fixed levels until viewers stall, bounded by --max.
    let n = Math.max(...results.map((r) => r.viewers)) + Number(values.step);
    while (n <= Number(values.max)) {
      process.stdout.write(`${n} viewers (ramp)…\n`);
      const r = await runLevel(c, n);
      results.push(r);
      process.stdout.write(`${JSON.stringify(r)}\n`);
      if (r.stalls > 0 || r.errors > 0 || !keepingUp(r, results)) break;
      n += Number(values.step);
    }
  } finally {
    await c.stop();
  }
  await report(results);
}

const perViewerKbps = (r: LevelResult) => (r.relayEgressMbps * 1000) / r.viewers;

/**
 * Whether the viewers of a level still received their streams in full: relay egress per viewer within
 * 80% of the best level's. Below that, the simulator (sharing the 2 cores) no longer keeps its viewers
 * fed, so "no stalls" there says nothing about the relays.
 */
function keepingUp(r: LevelResult, all: LevelResult[]): boolean {
  return perViewerKbps(r) >= 0.8 * Math.max(...all.map(perViewerKbps));
}

/** Where the ramp stopped, and whose CPU it was. */
function limitNote(results: LevelResult[]): string {
  const behind = results.find((r) => !keepingUp(r, results));
  if (behind)
    return `\nAt ${behind.viewers} viewers relay egress per viewer fell to ${perViewerKbps(behind).toFixed(0)} kbit/s (best level: ${Math.max(...results.map(perViewerKbps)).toFixed(0)}) with the simulator at ${behind.simulatorCpu.toFixed(2)} CPU s/s and the ${RELAYS} relays at ${((behind.relayCpuPer1000 * behind.viewers) / 1000).toFixed(2)}: the simulated viewers no longer fetched their streams in full, so levels from there on measure the simulator, not the relays (their "no stalls" is not counted). Relays on cores of their own would hold more; the relay throughput section above gives one relay's ceiling.\n`;
  const first = results.find((r) => r.stalls > 0 || r.errors > 0);
  if (!first) return '';
  const relays = (first.relayCpuPer1000 * first.viewers) / 1000;
  return `\nThe first level with stalls (${first.viewers} viewers) had the ${RELAYS} relays at ${relays.toFixed(2)} CPU s/s in all and the simulator at ${first.simulatorCpu.toFixed(2)} s/s, the transcoder and origin using the rest of the 2 cores: the machine ran out, not the relays. Relays on cores of their own would hold more; the relay throughput section above gives one relay's ceiling.\n`;
}

/** One level's row of the table (`most`: the most viewers served without stalls). */
function levelRow(r: LevelResult, results: LevelResult[], most: number): (string | number)[] {
  return [
    r.viewers === most ? `**${r.viewers}** (most without stalls)` : r.viewers,
    r.originPerSegment.toFixed(2),
    r.maxMeanViewers.toFixed(2),
    r.maxMeanBytes.toFixed(2),
    `${r.ttfbP50.toFixed(1)} / ${r.ttfbP99.toFixed(1)}`,
    r.segP99.toFixed(0),
    `${r.stalls} (${(r.stallMs / 1000).toFixed(1)} s)`,
    r.errors,
    r.relayCpuPer1000.toFixed(2),
    `${r.relayRssMb.toFixed(0)} (+${Math.max(0, r.relayRssGrowthMbPer1000).toFixed(0)} per 1,000)`,
    `${r.originEgressMbps.toFixed(2)} / ${r.relayEgressMbps.toFixed(1)}`,
    `${perViewerKbps(r).toFixed(0)}${keepingUp(r, results) ? '' : ' (behind)'}`,
    r.simulatorCpu.toFixed(2),
  ];
}

/** docs/viewers.png: origin and relay egress against viewers. */
async function plotEgress(results: LevelResult[]): Promise<void> {
  await plotPng(fileURLToPath(new URL('../docs/viewers.png', import.meta.url)), {
    title: `Egress against viewers (${RELAYS} relays)`,
    xLabel: 'viewers',
    yLabel: 'Mbit/s',
    series: [
      {
        name: 'origin egress',
        color: '#d9534f',
        points: results.map((r) => [r.viewers, r.originEgressMbps]),
      },
      {
        name: 'relay egress (all relays)',
        color: '#2f6fdb',
        points: results.map((r) => [r.viewers, r.relayEgressMbps]),
      },
    ],
  });
}

async function report(results: LevelResult[]): Promise<void> {
  const clean = results.filter((r) => r.stalls === 0 && r.errors === 0 && keepingUp(r, results));
  const most = clean.length ? Math.max(...clean.map((r) => r.viewers)) : 0;
  await plotEgress(results);
  writeSection(
    'viewers',
    viewersSection(
      results,
      results.map((r) => levelRow(r, results, most)),
    ),
  );
}

/** The `viewers` section of docs/benchmarks.md: a template, which reads better whole than cut up. */
function viewersSection(results: LevelResult[], rows: (string | number)[][]): string {
  return `## Audience scale: simulated viewers

\`npm run bench:viewers -- --levels ${values.levels} --seconds ${SECONDS} --max ${values.max} --step ${values.step}\`
(${RELAYS} relays, coordinator, origin with the test pattern at 320x180 and 160x90, simulator and all
processes on this one 2-core machine, loopback only; ${SECONDS} s per level). Run on ${new Date().toISOString().slice(0, 10)}.

${table(
  [
    'viewers',
    'origin requests / published segment',
    'max/mean viewers per relay',
    'max/mean bytes per relay',
    'TTFB p50 / p99 ms',
    'segment p99 ms',
    'stalls',
    'failed requests',
    'relay CPU s/s per 1,000 viewers',
    'relay RSS MB, all 4 (growth per 1,000 viewers)',
    'origin / relay egress Mbit/s',
    'relay egress per viewer, kbit/s',
    'simulator CPU s/s',
  ],
  rows,
)}

How to read it: origin requests per published segment is the ring's effect (target 1.0; a cluster of
plain caches without the ring would show one origin request per relay per segment, ${RELAYS}.0 here). A
stall is a segment that arrived after the simulated playhead needed it; a failed request is any playlist
or segment request that did not answer 200 with its full body. Origin egress is the origin's
\`ringcast_origin_bytes_served_total\` (segments, init sections and playlists to the relays); relay egress
is the relays' \`ringcast_relay_bytes_served_total\` (viewers and peer fills). Relay CPU is the relays'
process CPU seconds per wall second, divided by viewers, times 1,000. Relay egress per viewer is the
streams' mean bitrate while the viewers keep up; a level where it is under 80% of the best level's is
marked behind and does not count as "without stalls". The simulator (viewers in
${PER_WORKER}-viewer worker processes) shares the 2 cores with the cluster: its own CPU is the last
column, and where the sum of relay and simulator CPU nears 2.0 the machine, not the relays, is the limit.
${limitNote(results)}${
  lastErrors.size
    ? `\nLast errors seen: ${[...lastErrors]
        .slice(0, 5)
        .map((e) => `\`${e}\``)
        .join(', ')}.\n`
    : ''
}
![egress against viewers](viewers.png)`;
}

await main();
