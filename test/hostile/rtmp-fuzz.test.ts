import test from 'ava';
import { type FfmpegRun, publishTestPattern } from '../../harness/ffmpeg.ts';
import { runRtmpFuzz } from '../../harness/rtmp-fuzz-run.ts';
import { waitFor } from '../../harness/wait.ts';
import { type ChildOrigin, startChildOrigin } from './rtmp-client.ts';

// The structured RTMP fuzzer (harness/rtmp-fuzz-*.ts) against a child-process origin while a real
// ffmpeg publishes: every case is a valid handshake and generated messages on its own connection. The
// seed is fixed so a failure replays (`npm run fuzz:rtmp -- --seed 20261203 --first N --cases 1`).
const SEED = 20261203;
const CASES = 10_000;

let origin: ChildOrigin;
let publisher: FfmpegRun | undefined;

test.before(async () => {
  origin = await startChildOrigin();
});

test.after.always(async () => {
  publisher?.kill();
  await origin?.stop();
});

test(`${CASES} fuzzed RTMP connections: the origin runs and the live stream keeps publishing`, async (t) => {
  t.timeout(240_000);
  publisher = publishTestPattern(`${origin.rtmpUrl}/${origin.key}`, { size: '160x90' });
  const segments = () => origin.metric('ringcast_origin_segments_published_total');
  const rejected = () => origin.metric('ringcast_origin_rtmp_rejected_total');
  await waitFor(async () => (await segments()) >= 2, { timeoutMs: 60_000, what: 'the stream live' });
  const [segmentsBefore, rejectedBefore] = [await segments(), await rejected()];

  const result = await runRtmpFuzz({
    port: origin.rtmpPort,
    seed: SEED,
    cases: CASES,
    concurrency: 32,
    stop: () => !origin.alive(),
  });
  t.log(
    `${result.cases} cases in ${(result.elapsedMs / 1000).toFixed(1)} s (${Math.round((result.cases * 1000) / result.elapsedMs)}/s):`,
    JSON.stringify(result.byKind),
    `closed ${result.closed}, held ${result.held}`,
  );
  t.true(origin.alive(), `the origin exited; last lines:\n${origin.proc.tail.join('\n')}`);
  t.is(result.refused, 0, `connections refused from case ${result.firstRefused}`);
  t.is(result.cases, CASES);
  t.true(result.held < CASES / 100, `${result.held} connections still open after 5 s`);

  const segmentsAfter = await segments();
  t.true(segmentsAfter > segmentsBefore, `segments ${segmentsBefore} → ${segmentsAfter} during the run`);
  await waitFor(async () => (await segments()) > segmentsAfter, {
    timeoutMs: 15_000,
    what: 'a segment after',
  });
  t.is(publisher.child.exitCode, null, `the publisher runs: ${publisher.stderr()}`);
  const moved = (await rejected()) - rejectedBefore;
  t.true(moved > CASES / 4, `rtmp_rejected_total moved by ${moved}`);
});
