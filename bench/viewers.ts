/**
 * Viewer simulator: N simulated HLS viewers (master from the coordinator, one rendition, playlist reload
 * per half target duration, every new segment fetched once, stalls counted by a playhead model) against
 * a real cluster on this machine: coordinator, origin with the test pattern, 4 relays. Loopback only,
 * bounded in time and count. Rewrites its section of docs/benchmarks.md and docs/viewers.png.
 *   npm run bench:viewers [-- --levels 100,1000 --seconds 30 --max 4000 --relays 4]
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startTestCluster, type TestCluster, waitForLive } from '../test/helpers/cluster.ts';
import { type ReaderStats, readHls } from '../test/helpers/hls-reader.ts';
import { getText, sumMetric } from '../test/helpers/wait.ts';
import { plotPng } from './lib/plot.ts';
import { table, writeSection } from './lib/report.ts';

const { values } = parseArgs({
  options: {
    levels: { type: 'string', default: '100,1000' },
    seconds: { type: 'string', default: '30' },
    max: { type: 'string', default: '4000' },
    step: { type: 'string', default: '1000' },
    relays: { type: 'string', default: '4' },
  },
});
const SECONDS = Number(values.seconds);
const RELAYS = Number(values.relays);

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
  originEgressMbps: number;
  relayEgressMbps: number;
}

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
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

async function runLevel(c: TestCluster, viewers: number): Promise<LevelResult> {
  const controller = new AbortController();
  const readers: Promise<ReaderStats>[] = [];
  // Viewers arrive over 2 s, as a real audience does, not all in one tick.
  for (let i = 0; i < viewers; i++) {
    readers.push(
      readHls({
        masterUrl: `${c.coordinator.url}/live/demo/master.m3u8?session=sim-${viewers}-${i}`,
        variant: i % 2,
        signal: controller.signal,
      }),
    );
    if (i % Math.max(1, Math.floor(viewers / 20)) === 0) await new Promise((r) => setTimeout(r, 100));
  }
  const before = await sample(c);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const after = await sample(c);
  controller.abort();
  const stats = await Promise.all(readers);
  const perRelayViewers = new Map<string, number>();
  const perRelayBytes = new Map<string, number>();
  for (const s of stats) {
    const top = [...s.relays].sort((a, b) => b[1] - a[1])[0]?.[0];
    if (top) perRelayViewers.set(top, (perRelayViewers.get(top) ?? 0) + 1);
    for (const [id, b] of s.relayBytes) perRelayBytes.set(id, (perRelayBytes.get(id) ?? 0) + b);
  }
  const elapsed = (after.at - before.at) / 1000;
  const published = after.published - before.published;
  const cpu = after.relays.reduce((n, r, i) => n + r.cpu - before.relays[i]!.cpu, 0) / elapsed;
  const relayBytes = [...perRelayBytes.values()].reduce((a, b) => a + b, 0);
  return {
    viewers,
    published,
    originPerSegment: published ? (after.requested - before.requested) / published : 0,
    maxMeanViewers: maxOverMean([...perRelayViewers.values()]),
    maxMeanBytes: maxOverMean([...perRelayBytes.values()]),
    ttfbP50: quantile(
      stats.flatMap((s) => s.ttfbMs),
      0.5,
    ),
    ttfbP99: quantile(
      stats.flatMap((s) => s.ttfbMs),
      0.99,
    ),
    segP99: quantile(
      stats.flatMap((s) => s.segmentMs),
      0.99,
    ),
    stalls: stats.reduce((n, s) => n + s.stalls, 0),
    stallMs: stats.reduce((n, s) => n + s.stallMs, 0),
    errors: stats.reduce((n, s) => n + s.errors, 0),
    relayCpuPer1000: (cpu / viewers) * 1000,
    relayRssMb: after.relays.reduce((n, r) => n + r.rss, 0) / 1024 / 1024,
    originEgressMbps: ((after.originBytes - before.originBytes) * 8) / elapsed / 1e6,
    relayEgressMbps: (relayBytes * 8) / (SECONDS + 2) / 1e6,
  };
}

async function main(): Promise<void> {
  const c = await startTestCluster({ relays: RELAYS });
  const results: LevelResult[] = [];
  try {
    await waitForLive(c, 'demo', 3);
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
      if (r.stalls > 0 || r.errors > 0) break;
      n += Number(values.step);
    }
  } finally {
    await c.stop();
  }
  await report(results);
}

async function report(results: LevelResult[]): Promise<void> {
  const clean = results.filter((r) => r.stalls === 0 && r.errors === 0);
  const most = clean.length ? Math.max(...clean.map((r) => r.viewers)) : 0;
  const rows = results.map((r) => [
    r.viewers === most ? `**${r.viewers}** (most without stalls)` : r.viewers,
    r.originPerSegment.toFixed(2),
    r.maxMeanViewers.toFixed(2),
    r.maxMeanBytes.toFixed(2),
    `${r.ttfbP50.toFixed(1)} / ${r.ttfbP99.toFixed(1)}`,
    r.segP99.toFixed(0),
    `${r.stalls} (${(r.stallMs / 1000).toFixed(1)} s)`,
    r.errors,
    r.relayCpuPer1000.toFixed(2),
    r.relayRssMb.toFixed(0),
    `${r.originEgressMbps.toFixed(2)} / ${r.relayEgressMbps.toFixed(1)}`,
  ]);
  const png = fileURLToPath(new URL('../docs/viewers.png', import.meta.url));
  await plotPng(png, {
    title: 'Egress against viewers (4 relays)',
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
  writeSection(
    'viewers',
    `## Audience scale: simulated viewers

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
    'relay RSS MB (all)',
    'origin / relay egress Mbit/s',
  ],
  rows,
)}

A cluster of plain caches without the ring would show one origin request per relay per segment (${RELAYS}.0 here).

![egress against viewers](viewers.png)`,
  );
}

await main();
