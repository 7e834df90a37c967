import { spawn } from 'node:child_process';
import test from 'ava';
import HLS from 'hls-parser';
import { startTestCluster, type TestCluster, waitForLive } from '../../harness/cluster.ts';
import { readHls } from '../../harness/hls-reader.ts';
import { getText, sumMetric, waitFor } from '../../harness/wait.ts';

// One real cluster (coordinator, origin with the built-in test pattern, 3 relays) for the whole file.
let c: TestCluster;

test.before(async () => {
  c = await startTestCluster({ relays: 3 });
  await waitForLive(c, 'demo', 2);
});

test.after.always(async () => {
  await c?.stop();
});

/** Decodes a live HLS URL with ffmpeg; resolves with its exit code and how much media it decoded. */
function ffmpegDecode(
  url: string,
  seconds: number,
): Promise<{ code: number | null; decodedUs: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      'ffmpeg',
      [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        '-i',
        url,
        '-map',
        '0:v:0',
        '-map',
        '0:a:0',
        '-t',
        String(seconds),
      ].concat(['-f', 'null', '-progress', 'pipe:1', '-']),
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let decodedUs = 0;
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      for (const m of d.toString().matchAll(/out_time_us=(\d+)/g))
        decodedUs = Math.max(decodedUs, Number(m[1]));
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), (seconds + 40) * 1000);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, decodedUs, stderr });
    });
  });
}

test.serial(
  'the coordinator master points at a relay, and an ffmpeg HLS client decodes 10 s through it',
  async (t) => {
    const masterUrl = `${c.coordinator.url}/live/demo/master.m3u8?session=ffmpeg-1`;
    const master = HLS.parse(await getText(masterUrl)) as HLS.types.MasterPlaylist;
    t.true(master.isMasterPlaylist);
    t.true(master.variants.length >= 2, 'at least two renditions');
    const relayUrls = c.relays.map((r) => r.url);
    for (const v of master.variants)
      t.true(
        relayUrls.some((u) => v.uri.startsWith(u)),
        `${v.uri} is on a relay`,
      );
    const run = await ffmpegDecode(masterUrl, 10);
    t.is(run.code, 0, run.stderr);
    t.true(run.decodedUs >= 9_500_000, `decoded ${run.decodedUs / 1e6} s`);
    t.is(run.stderr.trim(), '', 'no decode errors');
  },
);

const originPublished = async () =>
  sumMetric(await getText(`${c.origin.url}/metrics`), 'ringcast_origin_segments_published_total');

test.serial(
  '20 concurrent readers spread over 3 relays; the origin sends each segment about once',
  async (t) => {
    const originMetrics = async () => {
      const text = await getText(`${c.origin.url}/metrics`);
      return {
        published: sumMetric(text, 'ringcast_origin_segments_published_total'),
        requested: sumMetric(text, 'ringcast_origin_segment_requests_total'),
      };
    };
    const controller = new AbortController();
    const readers = Array.from({ length: 20 }, (_, i) =>
      readHls({
        masterUrl: `${c.coordinator.url}/live/demo/master.m3u8?session=viewer-${i}`,
        variant: i % 2,
        signal: controller.signal,
      }),
    );
    const start = await originMetrics();
    // Read until every rendition has published at least 4 more segments.
    await waitFor(async () => (await originMetrics()).published >= start.published + 8, {
      timeoutMs: 40_000,
      what: '8 more segments',
    });
    controller.abort();
    const stats = await Promise.all(readers);
    const end = await originMetrics();
    const relaysUsed = new Set<string>();
    for (const s of stats) {
      t.is(s.errors, 0, s.lastError);
      t.true(s.segments >= 3, `a reader got ${s.segments} segments`);
      for (const id of s.relays.keys()) relaysUsed.add(id);
    }
    t.is(relaysUsed.size, 3, `readers spread over ${[...relaysUsed].join(', ')}`);
    const served = stats.reduce((n, s) => n + s.segments, 0);
    t.log(`origin: published ${end.published}, requested ${end.requested}; readers got ${served} segments`);
    // Each published segment leaves the origin about once, however many read it (edges of the window aside).
    t.true(end.requested <= end.published + 4, `requested ${end.requested} vs published ${end.published}`);
    t.true(end.requested >= end.published - 6, `requested ${end.requested} vs published ${end.published}`);
    t.true(served > end.requested - start.requested, 'readers got more segments than the origin sent');
  },
);

test.serial(
  'SIGKILL of a relay removes it from the ring within 5 s; reads through the others go on',
  async (t) => {
    const victim = c.relays[0]!;
    const victimId = (await c.cluster()).ring.relays.find((r) => r.url === victim.url)!.id;
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await waitFor(async () => !(await c.cluster()).ring.relays.some((r) => r.id === victimId), {
      timeoutMs: 6000,
      intervalMs: 50,
      what: 'victim gone from the ring',
    });
    const removalMs = Date.now() - killedAt;
    t.log(`relay left the ring ${removalMs} ms after SIGKILL`);
    t.true(removalMs <= 5000);
    const controller = new AbortController();
    const readers = Array.from({ length: 6 }, (_, i) =>
      readHls({
        masterUrl: `${c.coordinator.url}/live/demo/master.m3u8?session=after-kill-${i}`,
        signal: controller.signal,
      }),
    );
    const before = await originPublished();
    await waitFor(async () => (await originPublished()) >= before + 6, {
      timeoutMs: 30_000,
      what: '6 more segments',
    });
    controller.abort();
    for (const s of await Promise.all(readers)) {
      t.is(s.errors, 0, s.lastError);
      t.true(s.segments >= 2);
      t.false(s.relays.has(victimId));
    }
  },
);
