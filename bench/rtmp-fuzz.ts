/**
 * The long RTMP fuzz run: the generator of the hostile RTMP fuzz test, many more cases, against a
 * child-process origin while ffmpeg publishes a 160x90 test pattern. Exits non-zero if the origin dies,
 * a connection is refused, or the stream stops growing; prints the case to replay.
 *   npm run fuzz:rtmp [-- --cases 1000000 --seed 20261203 --first 0 --concurrency 32]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type PartProcess, spawnPart, stopPart } from '../cli/part-process.ts';
import { publishTestPattern } from '../harness/ffmpeg.ts';
import { runRtmpFuzz } from '../harness/rtmp-fuzz-run.ts';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '20261203' },
    first: { type: 'string', default: '0' },
    concurrency: { type: 'string', default: '32' },
  },
});
const BATCH = 10_000;

/** The origin's counter `name` summed over its labels. */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.split(' ').pop());
  return sum;
}

/** The origin under fuzz and its one honest publisher. */
interface FuzzTarget {
  origin: PartProcess;
  publisher: ReturnType<typeof publishTestPattern>;
  /** The origin's RTMP port. */
  port: number;
  alive(): boolean;
  segments(): Promise<number>;
}

/** Fuzzes one batch of cases from `first`; false (after printing what to replay) when the origin failed. */
async function fuzzBatch(t: FuzzTarget, first: number, cases: number, started: number): Promise<boolean> {
  const before = await t.segments();
  const r = await runRtmpFuzz({
    port: t.port,
    seed: Number(values.seed),
    first,
    cases,
    concurrency: Number(values.concurrency),
    stop: () => !t.alive(),
  });
  const after = t.alive() ? await t.segments() : before;
  const rate = Math.round(((first - Number(values.first) + r.cases) * 1000) / (Date.now() - started));
  console.log(
    `cases ${first}..${first + r.cases - 1}: closed ${r.closed}, held ${r.held}, refused ${r.refused}; ` +
      `segments ${before} → ${after}; ${rate} cases/s overall`,
  );
  // A batch long enough for a few 2 s segments must have seen one (a one-case replay need not).
  const stalled = r.elapsedMs > 8000 && after <= before;
  if (t.alive() && r.refused === 0 && !stalled && t.publisher.child.exitCode === null) return true;
  console.log(`FAILED in cases ${first}..${first + cases - 1} (first refused: ${r.firstRefused ?? '-'})`);
  console.log(t.origin.tail.join('\n'));
  return false;
}

/** Every batch in turn, once the stream has two segments; the exit code. */
async function fuzzAll(t: FuzzTarget): Promise<number> {
  const deadline = Date.now() + 60_000;
  while ((await t.segments()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  const from = Number(values.first);
  const total = Number(values.cases);
  const started = Date.now();
  for (let first = from; first < from + total; first += BATCH) {
    if (!(await fuzzBatch(t, first, Math.min(BATCH, from + total - first), started))) return 1;
  }
  const rejected = await metric(t.origin.url, 'ringcast_origin_rtmp_rejected_total');
  console.log(`${total} cases, origin alive, rejected ${rejected}`);
  return 0;
}

async function run(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-fuzz-'));
  const key = `fuzz${process.pid}`;
  const origin = await spawnPart({
    part: 'origin',
    args: [
      ...['--port', '0', '--rtmp-port', '0', '--source', 'rtmp', '--stream-key', key],
      ...['--ladder', '90p:160x90:150k:48k', '--fps', '15', '--data-dir', join(dir, 'origin')],
    ],
    env: { RINGCAST_LOG_LEVEL: 'info' }, // spawnPart waits for the 'listening' line
  });
  const publisher = publishTestPattern(`${origin.rtmpUrl}/${key}`, {
    size: '160x90',
    audioBitsPerSecond: 48_000,
  });
  try {
    return await fuzzAll({
      origin,
      publisher,
      port: Number(new URL(origin.rtmpUrl!.replace('rtmp:', 'http:')).port),
      alive: () => origin.child.exitCode === null && origin.child.signalCode === null,
      segments: () => metric(origin.url, 'ringcast_origin_segments_published_total'),
    });
  } finally {
    publisher.kill();
    await stopPart(origin, 3000);
    rmSync(dir, { recursive: true, force: true });
  }
}

run().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
