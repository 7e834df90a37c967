import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import HLS from 'hls-parser';
import { listen } from '../../common/http.ts';
import { silentLogger } from '../../common/log.ts';
import { type FfmpegRun, publisherArgs, runFfmpeg } from '../../harness/ffmpeg.ts';
import { BoxSplitter, parseMoov, type TrackInfo } from '../../origin/box-parser.ts';
import { parseLadder } from '../../origin/config.ts';
import { parseMoof } from '../../origin/moof-parser.ts';
import { RenditionPackager } from '../../origin/packager.ts';
import { mediaPlaylistText, targetDurationFor } from '../../origin/playlist-writer.ts';
import type { PublishedSegment } from '../../origin/segment-types.ts';
import { StreamClock } from '../../origin/stream-clock.ts';
import { transcodeArgs } from '../../origin/transcode-command.ts';

/**
 * 5 s of fragmented MP4 from the origin's own transcode arguments (one 320x180 rung) and its PUT
 * hand-off, fed a 5 s file from the OBS-like publisher so it runs faster than real time.
 */
async function encodeFmp4(): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-packager-input-'));
  const input = join(dir, 'obs.flv');
  const body: Buffer[] = [];
  let received!: () => void;
  const uploaded = new Promise<void>((resolve) => {
    received = resolve;
  });
  const sink = createServer((req, res) => {
    req.on('data', (d: Buffer) => body.push(d));
    req.on('end', () => {
      res.end();
      received();
    });
  });
  try {
    await succeeded(runFfmpeg(publisherArgs(input, { seconds: 5, realTime: false })));
    const sinkUrl = await listen(sink, 0);
    const args = transcodeArgs({
      input: { kind: 'rtmp', url: input },
      ladder: parseLadder('180p:320x180:300k:64k'),
      fps: 15,
      segmentSeconds: 2,
      outputUrl: (rendition) => `${sinkUrl}/ingest/demo/${rendition}`,
    });
    await succeeded(runFfmpeg(args));
    await uploaded;
    return Buffer.concat(body);
  } finally {
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function succeeded(run: FfmpegRun): Promise<void> {
  const code = await run.exited;
  if (code !== 0) throw new Error(`ffmpeg ${code}: ${run.stderr()}`);
}

let fmp4: Buffer;
test.before(async () => {
  fmp4 = await encodeFmp4();
});

/** Feeds `data` in odd-sized chunks, so boxes straddle chunk boundaries. */
function* chunks(data: Buffer, size = 4093): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

test('box splitter: top-level boxes across chunk boundaries; moov and moof fields', (t) => {
  const splitter = new BoxSplitter();
  const types: string[] = [];
  let tracks: TrackInfo[] = [];
  const keyframeTimes: number[] = [];
  let videoSeconds = 0;
  for (const chunk of chunks(fmp4)) {
    for (const box of splitter.push(chunk)) {
      types.push(box.type);
      if (box.type === 'moov') tracks = parseMoov(box);
      if (box.type === 'moof') {
        const video = tracks.find((x) => x.handler === 'vide')!;
        // Like the packager, skip fragments with no video (the audio that outlasts the last frame).
        const traf = parseMoof(box, tracks).find((f) => f.trackId === video.trackId);
        if (!traf) continue;
        if (traf.startsWithSync) keyframeTimes.push(traf.baseMediaDecodeTime / video.timescale);
        videoSeconds += traf.duration / video.timescale;
      }
    }
  }
  t.is(splitter.bufferedBytes, 0);
  t.deepEqual(types.slice(0, 2), ['ftyp', 'moov']);
  t.true(types.filter((x) => x === 'moof').length >= 20, '~200 ms fragments');
  const video = tracks.find((x) => x.handler === 'vide')!;
  t.regex(video.codec!, /^avc1\.64[0-9a-f]{4}$/);
  t.is(video.width, 320);
  t.is(video.height, 180);
  t.is(tracks.find((x) => x.handler === 'soun')?.codec, 'mp4a.40.2');
  t.deepEqual(
    keyframeTimes.map((s) => Math.round(s)),
    [0, 2, 4],
  );
  t.true(Math.abs(videoSeconds - 5) < 0.2, `video lasts ${videoSeconds}s`);
});

test('box splitter: 64-bit box sizes and corrupt sizes', (t) => {
  const large = Buffer.alloc(24);
  large.writeUInt32BE(1, 0);
  large.write('free', 4, 'latin1');
  large.writeBigUInt64BE(24n, 8);
  const s = new BoxSplitter();
  t.deepEqual(s.push(large.subarray(0, 10)), []);
  const [box] = s.push(large.subarray(10));
  t.is(box?.type, 'free');
  t.is(box?.data.length, 24);
  const bad = Buffer.from([0, 0, 0, 4, 0x66, 0x72, 0x65, 0x65]);
  t.throws(() => new BoxSplitter().push(bad), { message: /bad box size/ });
});

test('packager: segments at keyframes, atomic files, numbering continues after a restart', async (t) => {
  // Reads better whole: two runs through one packager, then everything they produced checked together.
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-packager-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const published: PublishedSegment[] = [];
  const p = new RenditionPackager({
    streamId: 'demo',
    rendition: '180p',
    dir,
    windowSegments: 4,
    retainSegments: 5,
    log: silentLogger(),
    onSegment: (s) => published.push(s),
  });
  for (const run of ['run-a', 'run-b']) {
    p.beginRun(run, new StreamClock());
    for (const chunk of chunks(fmp4, 7919)) p.push(run, chunk);
    p.endRun(run);
  }
  p.markEnded();
  await p.flushed();
  // 0-2 s, 2-4 s, 4-5 s per run; the second run continues at 3 with a discontinuity.
  t.deepEqual(
    published.map((s) => s.msn),
    [0, 1, 2, 3, 4, 5],
  );
  t.deepEqual(
    published.map((s) => s.discontinuity),
    [false, false, false, true, false, false],
  );
  t.deepEqual(
    published.map((s) => Math.round(s.duration)),
    [2, 2, 1, 2, 2, 1],
  );
  t.regex(p.init!.name, /^init-[0-9a-f]{8}\.mp4$/);
  t.true(existsSync(join(dir, p.init!.name)));
  // Retention: segment 0 is gone, the others are on disk with the announced digest.
  t.false(existsSync(join(dir, '0.m4s')));
  for (const s of published.slice(1)) {
    const bytes = readFileSync(join(dir, s.file));
    t.is(bytes.length, s.size);
    t.is(createHash('sha256').update(bytes).digest('hex'), s.sha256);
  }
  // PDT advances by media time within a run.
  const [s0, s1] = published;
  t.true(Math.abs(s1!.programDateTime.getTime() - s0!.programDateTime.getTime() - s0!.duration * 1000) < 5);

  const text = mediaPlaylistText({
    segments: p.segments,
    targetDuration: targetDurationFor(p.longestSegmentSeconds, 2),
    ended: p.isEnded,
  });
  const pl = HLS.parse(text) as InstanceType<typeof HLS.types.MediaPlaylist>;
  t.is(pl.mediaSequenceBase, 2);
  t.is(pl.targetDuration, 2);
  t.true(pl.endlist);
  t.is(pl.segments.length, 4);
  t.true(pl.segments.every((s) => s.programDateTime instanceof Date));
  t.true(pl.segments[1]!.discontinuity);
  t.is(pl.segments[0]!.map.uri, p.init!.name);
  t.regex(text, /#EXT-X-INDEPENDENT-SEGMENTS/);
  t.is((text.match(/#EXT-X-PROGRAM-DATE-TIME/g) ?? []).length, 4);
});

test('packager: fragments of a stale run are ignored', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-packager-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let count = 0;
  const p = new RenditionPackager({
    streamId: 'demo',
    rendition: '180p',
    dir,
    windowSegments: 6,
    retainSegments: 12,
    log: silentLogger(),
    onSegment: () => count++,
  });
  p.beginRun('old', new StreamClock());
  p.beginRun('new', new StreamClock());
  for (const chunk of chunks(fmp4)) p.push('old', chunk);
  p.endRun('old');
  await p.flushed();
  t.is(count, 0);
  t.is(p.segments.length, 0);
});
