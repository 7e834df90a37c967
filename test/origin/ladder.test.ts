import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import HLS from 'hls-parser';
import { silentLogger } from '../../common/log.ts';
import { type FfmpegRun, publishTestPattern } from '../../harness/ffmpeg.ts';
import { getText, waitFor } from '../../harness/wait.ts';
import { Origin } from '../../origin/app.ts';
import { loadOriginConfig, parseLadder } from '../../origin/config.ts';
import { selectLadder } from '../../origin/ladder-choice.ts';

type Media = InstanceType<typeof HLS.types.MediaPlaylist>;
type Master = InstanceType<typeof HLS.types.MasterPlaylist>;
const tag = `${process.pid}x${Date.now()}`;

async function startOrigin(key: string, ladder: string) {
  const config = loadOriginConfig(
    [],
    {},
    { port: 0, rtmpPort: 0, source: 'rtmp', streamKey: key, ladder, fps: 15, endGraceMs: 2000 },
  );
  const origin = new Origin(config, { log: silentLogger() });
  return { origin, ...(await origin.start()) };
}

const publishers: FfmpegRun[] = [];
test.after.always(() => {
  for (const p of publishers) p.kill();
});

test('ladder syntax: name:copy is a pass-through; rungs above the input are skipped, the smallest stays', (t) => {
  const ladder = parseLadder('source:copy,720p:1280x720:3000k:128k,360p:640x360:800k:96k');
  t.deepEqual(ladder[0], {
    name: 'source',
    width: 0,
    height: 0,
    videoBitsPerSecond: 0,
    audioBitsPerSecond: 0,
    copy: true,
  });
  t.throws(() => parseLadder('a:copy,b:copy'), { message: /at most one pass-through/ });
  const rtmp = { kind: 'rtmp' as const, url: 'rtmp://x/live/k' };
  const names = (w: number, h: number) =>
    selectLadder(ladder, rtmp, { width: w, height: h }).map((r) => r.name);
  t.deepEqual(names(1920, 1080), ['source', '720p', '360p']);
  t.deepEqual(names(854, 480), ['source', '360p']);
  t.deepEqual(names(320, 180), ['source', '360p'], 'the smallest encoded rung stays');
  t.deepEqual(
    selectLadder(ladder, rtmp, undefined).map((r) => r.name),
    ['source', '720p', '360p'],
    'unknown size: all',
  );
  const testsrc = { kind: 'testsrc' as const, size: '320x180', fps: 15 };
  t.deepEqual(
    selectLadder(ladder, testsrc, undefined).map((r) => r.name),
    ['720p', '360p'],
    'no pass-through of the test pattern',
  );
});

test.serial(
  'pass-through and skipped rung: master RESOLUTION, CODECS, measured BANDWIDTH against the media',
  async (t) => {
    // Reads better whole: one publish, then each attribute checked against the media it describes.
    const key = `ladder-${tag}`;
    const { origin, url, rtmpUrl } = await startOrigin(
      key,
      'source:copy,360p:640x360:500k:64k,180p:320x180:300k:64k,90p:160x90:150k:48k',
    );
    t.teardown(() => origin.close());
    const run = publishTestPattern(`${rtmpUrl}/${key}`);
    publishers.push(run);
    const master = await waitFor(
      async () => {
        const res = await fetch(`${url}/live/demo/master.m3u8`);
        if (res.status !== 200) return undefined;
        const m = HLS.parse(await res.text()) as Master;
        // Wait for a few segments, so the measured bandwidth has a window.
        const pl = HLS.parse(await getText(`${url}/live/demo/source/index.m3u8`)) as Media;
        return pl.segments.length >= 3 ? m : undefined;
      },
      { timeoutMs: 60_000, what: 'master playlist with 3 segments' },
    );
    t.deepEqual(
      master.variants.map((v) => v.uri),
      ['source/index.m3u8', '180p/index.m3u8', '90p/index.m3u8'],
      '360p is above the 320x180 input',
    );
    const dir = mkdtempSync(join(tmpdir(), 'ringcast-ladder-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    for (const v of master.variants) {
      const rendition = v.uri.split('/')[0]!;
      const pl = HLS.parse(await getText(`${url}/live/demo/${rendition}/index.m3u8`)) as Media;
      const init = Buffer.from(
        await (await fetch(`${url}/live/demo/${rendition}/${pl.segments[0]!.map.uri}`)).arrayBuffer(),
      );
      let bytes = 0;
      let seconds = 0;
      let last = Buffer.alloc(0);
      for (const s of pl.segments) {
        last = Buffer.from(await (await fetch(`${url}/live/demo/${rendition}/${s.uri}`)).arrayBuffer());
        bytes += last.length;
        seconds += s.duration;
      }
      const file = join(dir, `${rendition}.mp4`);
      writeFileSync(file, Buffer.concat([init, last]));
      const probe = JSON.parse(
        execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file], { encoding: 'utf8' }),
      ) as { streams: Array<Record<string, string | number>> };
      const video = probe.streams.find((s) => s.codec_type === 'video')!;
      t.deepEqual(v.resolution, { width: Number(video.width), height: Number(video.height) }, rendition);
      t.is(Number.parseInt(v.codecs!.slice(9, 11), 16), Number(video.level), `${v.codecs} level`);
      t.is(v.frameRate, 15);
      // The window may have moved between the master and our reads: compare loosely.
      const mean = (bytes * 8) / seconds;
      t.true(
        Math.abs(v.averageBandwidth! - mean) / mean < 0.35,
        `${rendition}: ${v.averageBandwidth} vs ${mean}`,
      );
      t.true(v.bandwidth >= v.averageBandwidth!, `${rendition}: peak ${v.bandwidth} >= mean`);
    }
    t.is(run.child.exitCode, null, run.stderr());
  },
);

test.serial('video-only input is packaged (no audio track); the stream goes live', async (t) => {
  const key = `video-only-${tag}`;
  const { origin, url, rtmpUrl } = await startOrigin(key, '180p:320x180:300k:64k,90p:160x90:150k:48k');
  t.teardown(() => origin.close());
  const run = publishTestPattern(`${rtmpUrl}/${key}`, { audio: false });
  publishers.push(run);
  const master = await waitFor(
    async () => {
      const res = await fetch(`${url}/live/demo/master.m3u8`);
      return res.status === 200 ? (HLS.parse(await res.text()) as Master) : undefined;
    },
    { timeoutMs: 60_000, what: 'master playlist' },
  );
  t.regex(master.variants[0]!.codecs!, /^avc1\.[0-9a-f]{6}$/, 'video codec only');
  t.is(origin.stream('demo')?.state, 'live');
});
