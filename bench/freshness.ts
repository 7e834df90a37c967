/**
 * Live-edge freshness: the time from a segment's announcement (the coordinator's `segment` event) to the
 * segment being a cache hit on every relay of an 8-relay cluster. Every relay has a viewer of every
 * rendition (a playlist reader), so the owner prefetches from the origin and the others from the owner;
 * probes use `Cache-Control: only-if-cached`, so they never fill anything themselves.
 *   npm run bench:freshness [-- --relays 8 --seconds 40]
 */
import { parseArgs } from 'node:util';
import { SseParser } from '../common/sse.ts';
import type { SegmentAnnouncement } from '../common/types.ts';
import { startTestCluster, type TestCluster, waitForLive } from '../harness/cluster.ts';
import { table, writeSection } from './lib/report.ts';

const { values } = parseArgs({
  options: { relays: { type: 'string', default: '8' }, seconds: { type: 'string', default: '40' } },
});
const RELAYS = Number(values.relays);
const SECONDS = Number(values.seconds);

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

/** Polls one relay until the object is a cache hit; resolves with the ms since `t0`. */
async function timeToHit(url: string, t0: number, deadline: number): Promise<number> {
  while (performance.now() < deadline) {
    const res = await fetch(url, { headers: { 'cache-control': 'only-if-cached' } });
    await res.arrayBuffer();
    if (res.status === 200) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 10));
  }
  return Number.POSITIVE_INFINITY;
}

/** A viewer of every rendition on every relay: reading the playlist every second is enough to count. */
function keepViewers(c: TestCluster, renditions: string[]): NodeJS.Timeout {
  return setInterval(() => {
    for (const r of c.relays)
      for (const name of renditions)
        void fetch(`${r.url}/live/demo/${name}/index.m3u8?session=fresh-${r.id}`)
          .then((x) => x.arrayBuffer())
          .catch(() => {});
  }, 1000);
}

/** Times to a cache hit: each relay's, and per segment the slowest relay's. */
interface Freshness {
  perRelay: number[];
  allRelays: number[];
}

/** For each segment announced in the next SECONDS (after the first few), the time until every relay has it. */
async function measureAnnouncements(
  c: TestCluster,
  renditions: string[],
  controller: AbortController,
): Promise<Freshness> {
  const out: Freshness = { perRelay: [], allRelays: [] };
  const measurements: Promise<void>[] = [];
  const res = await fetch(`${c.coordinator.url}/api/v1/events`, {
    headers: { authorization: `Bearer ${c.secret}` },
    signal: controller.signal,
  });
  const parser = new SseParser((event, data) => {
    if (event !== 'segment') return;
    const t0 = performance.now();
    const seg = JSON.parse(data) as SegmentAnnouncement;
    const path = `/live/${seg.streamId}/${seg.rendition}/${seg.file}`;
    measurements.push(
      Promise.all(c.relays.map((r) => timeToHit(r.url + path, t0, t0 + 5000))).then((times) => {
        out.perRelay.push(...times);
        out.allRelays.push(Math.max(...times));
      }),
    );
  });
  await readEvents(res.body!.getReader(), parser, renditions.length * 2);
  controller.abort();
  await Promise.all(measurements);
  return out;
}

/** Feeds the event stream to `parser` for SECONDS, skipping the first `skip` segment events (viewers register). */
async function readEvents(reader: ReadableStreamDefaultReader<Uint8Array>, parser: SseParser, skip: number) {
  const until = performance.now() + SECONDS * 1000;
  const decoder = new TextDecoder();
  while (performance.now() < until) {
    const { value, done } = await reader.read();
    if (done) break;
    if (skip > 0) {
      skip -= (decoder.decode(value).match(/event: segment/g) ?? []).length;
      continue;
    }
    parser.push(decoder.decode(value));
  }
}

async function main(): Promise<void> {
  const c = await startTestCluster({ relays: RELAYS });
  const controller = new AbortController();
  let fresh: Freshness;
  try {
    await waitForLive(c, 'demo', 2);
    const view = await c.cluster();
    const renditions = view.streams[0]!.renditions.map((r) => r.name);
    const viewerTimer = keepViewers(c, renditions);
    fresh = await measureAnnouncements(c, renditions, controller);
    clearInterval(viewerTimer);
  } finally {
    controller.abort();
    await c.stop();
  }
  writeReport(fresh);
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : 'never');
const row = (label: string, xs: number[]) => [
  label,
  xs.length,
  fmt(quantile(xs, 0.5)),
  fmt(quantile(xs, 0.99)),
  fmt(Math.max(...xs)),
];

function writeReport({ perRelay, allRelays }: Freshness): void {
  const rows = [row('one relay', perRelay), row(`all ${RELAYS} relays`, allRelays)];
  for (const r of rows) process.stdout.write(`${r.join('  ')}\n`);
  writeSection(
    'freshness',
    `## Live-edge freshness

\`npm run bench:freshness -- --relays ${RELAYS} --seconds ${SECONDS}\`: coordinator, origin (test pattern,
320x180 and 160x90) and ${RELAYS} relays on this 2-core machine; every relay has a viewer of every
rendition. For each segment announcement the script polls every relay with \`Cache-Control:
only-if-cached\` (a probe never fills) until it answers 200. Run on ${new Date().toISOString().slice(0, 10)}.

${table(['time from announcement to cache hit', 'samples', 'p50 ms', 'p99 ms', 'max ms'], rows)}

Target: under 100 ms at the 99th percentile on every relay.`,
  );
}

await main();
