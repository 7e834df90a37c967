import { readFileSync } from 'node:fs';
import test from 'ava';
import { ORIGIN_CONFIG, parseLadder } from '../../origin/config.ts';
import {
  encodedRungArgs,
  passThroughArgs,
  scaleFilter,
  type TranscodeOptions,
  transcodeArgs,
} from '../../origin/transcode-command.ts';

/**
 * The ffmpeg arguments, pinned as they were before transcodeArgs was split into named pieces (issue 15).
 * A change to the fixture changes what every origin runs: it must be on purpose.
 */
const pinned = JSON.parse(
  readFileSync(new URL('./fixtures/transcode-args.json', import.meta.url), 'utf8'),
) as Record<string, string[]>;

const url = (r: string) => `http://127.0.0.1:9/ingest/run/${r}`;
const rtmp = { kind: 'rtmp', url: 'rtmp://127.0.0.1:1935/live/p' } as const;

const cases: { name: string; opts: TranscodeOptions }[] = [
  {
    // The default ladder on the test pattern: what `npm start` runs.
    name: 'defaultTestsrc',
    opts: {
      input: { kind: 'testsrc', size: '1280x720', fps: 30 },
      ladder: parseLadder(ORIGIN_CONFIG.ladder.default),
      fps: 30,
      segmentSeconds: 2,
      outputUrl: url,
    },
  },
  {
    // A pass-through rung and two encoded ones from an RTMP publisher sending AAC (the LL-HLS tests' shape).
    name: 'copyRtmpAac',
    opts: {
      input: rtmp,
      ladder: parseLadder('source:copy,360p:640x360:800k:96k,180p:320x180:300k:64k'),
      fps: 15,
      segmentSeconds: 1,
      copyAudio: true,
      outputUrl: url,
    },
  },
  {
    // Pass-through only, audio that is not AAC: re-encoded.
    name: 'copyRtmpMp3',
    opts: {
      input: rtmp,
      ladder: parseLadder('source:copy'),
      fps: 25,
      segmentSeconds: 2,
      copyAudio: false,
      outputUrl: url,
    },
  },
];

for (const c of cases) {
  test(`transcodeArgs: ${c.name} is byte-identical to the pinned arguments`, (t) => {
    t.deepEqual(transcodeArgs(c.opts), pinned[c.name]);
  });
}

const rung = parseLadder('180p:320x180:300k:64k')[0]!;

const pieces: { name: string; actual: () => string | string[]; expected: string | string[] }[] = [
  {
    name: 'scaleFilter: one rung',
    actual: () => scaleFilter([rung], 15),
    expected:
      '[0:v]fps=15,split=1[s0];[s0]scale=320:180:force_original_aspect_ratio=decrease,pad=320:180:(ow-iw)/2:(oh-ih)/2,setsar=1[v0]',
  },
  {
    name: 'passThroughArgs: AAC copied',
    actual: () => passThroughArgs('0:a?', true).slice(0, 8),
    expected: ['-map', '0:v', '-map', '0:a?', '-c:v', 'copy', '-c:a', 'copy'],
  },
  {
    name: 'passThroughArgs: other audio re-encoded at 128k',
    actual: () => passThroughArgs('1:a', false).slice(6, 14),
    expected: ['-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2'],
  },
  {
    name: 'encodedRungArgs: GOP is fps × segment seconds, maxrate 110 %, bufsize 2×',
    actual: () => encodedRungArgs(rung, 2, '0:a?', { fps: 15, segmentSeconds: 1 }).slice(0, 24).join(' '),
    expected:
      '-map [v2] -map 0:a? -c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p -b:v 300k -maxrate 330k -bufsize 600k -g 15 -keyint_min 15 -sc_threshold 0',
  },
];

for (const c of pieces) {
  test(c.name, (t) => {
    t.deepEqual(c.actual(), c.expected);
  });
}
