import test from 'ava';
import { parseLadder } from '../../origin/config.ts';
import { copiesAudio } from '../../origin/ladder-choice.ts';
import { inputProblem, measureBitrate, partTargetFor, renditionInfoOf } from '../../origin/rendition-info.ts';
import type { PublishedSegment } from '../../origin/segment-types.ts';

test('measureBitrate: peak and mean over whole segments', (t) => {
  const rows: [{ duration: number; size: number }[], { peak: number; average: number } | undefined][] = [
    [[], undefined],
    [[{ duration: 0.05, size: 1000 }], undefined],
    [[{ duration: 2, size: 250_000 }], { peak: 1_000_000, average: 1_000_000 }],
    [
      [
        { duration: 2, size: 250_000 },
        { duration: 2, size: 500_000 },
        { duration: 0.1, size: 99_999 },
      ],
      { peak: 2_000_000, average: 1_500_000 },
    ],
  ];
  for (const [segments, expected] of rows) t.deepEqual(measureBitrate(segments), expected);
});

test('partTargetFor: 200 ms of whole frames plus 15 %', (t) => {
  const rows: [number, number][] = [
    [30, 0.23],
    [25, 0.23],
    [15, 0.23],
    [24, 0.24],
    [10, 0.23],
    [1, 1.15],
  ];
  for (const [fps, expected] of rows) t.is(partTargetFor(fps), expected, `${fps} fps`);
});

test('inputProblem: the line that names the problem, else the last', (t) => {
  const rows: [string[], string | undefined][] = [
    [[], undefined],
    [['a', 'b'], 'b'],
    [
      ['Invalid data found when processing input', 'Conversion failed!'],
      'Invalid data found when processing input',
    ],
    [
      ["Stream specifier ':v' in filtergraph description [0:v]fps=30 matches no streams.", 'x'],
      "input has no video: Stream specifier ':v' in filtergraph description [0:v]fps=30 matches no streams.",
    ],
  ];
  for (const [stderr, expected] of rows) t.is(inputProblem(stderr), expected);
});

test('copiesAudio: AAC, or no word, passes through; other codecs are re-encoded', (t) => {
  t.true(copiesAudio(undefined));
  t.true(copiesAudio({ width: 1, height: 1 }));
  t.true(copiesAudio({ width: 1, height: 1, audioCodec: 'aac' }));
  t.false(copiesAudio({ width: 1, height: 1, audioCodec: 'mp3' }));
});

test('renditionInfoOf: estimated before segments, measured after; pass-through takes the source size', (t) => {
  const [rung, copy] = parseLadder('360p:640x360:800k:96k,source:copy');
  const source = { width: 1920, height: 1080, fps: 60 };
  t.deepEqual(renditionInfoOf(rung!, { init: undefined, segments: [] }, source, 30), {
    name: '360p',
    bandwidth: Math.round((800_000 * 1.1 + 96_000) * 1.1),
    averageBandwidth: Math.round(896_000 * 1.05),
    width: 640,
    height: 360,
    frameRate: 30,
  });
  const segments = [{ duration: 2, size: 250_000 }] as PublishedSegment[];
  t.deepEqual(renditionInfoOf(copy!, { init: undefined, segments }, source, 30), {
    name: 'source',
    bandwidth: 1_000_000,
    averageBandwidth: 1_000_000,
    width: 1920,
    height: 1080,
    frameRate: 60,
  });
});
