/**
 * Transcode cost: CPU seconds per second of 720p30 input for the origin's default ladder, through the
 * origin's own ffmpeg arguments (transcodeArgs) and its fMP4-over-HTTP hand-off to a sink. The input is
 * a 720p30 H.264/AAC file encoded the way OBS sends it, so decoding is part of the cost, as with RTMP.
 *   npm run bench:transcode [-- --seconds 30]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { listen } from '../common/http.ts';
import { publisherArgs, runFfmpeg } from '../harness/ffmpeg.ts';
import { type LadderRung, ORIGIN_CONFIG, parseLadder } from '../origin/config.ts';
import { transcodeArgs } from '../origin/transcode-command.ts';
import { table, writeSection } from './lib/report.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '30' } } });
const SECONDS = Number(values.seconds);

/** Runs a command under GNU time; resolves with user+system CPU seconds and wall seconds. */
function timed(cmd: string, args: string[]): Promise<{ cpu: number; wall: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'TIME %U %S %e', cmd, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code) => {
      const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+)/.exec(err);
      if (code !== 0 || !m) return reject(new Error(`${cmd} failed (${code}):\n${err.slice(-2000)}`));
      resolve({ cpu: Number(m[1]) + Number(m[2]), wall: Number(m[3]) });
    });
  });
}

/** What OBS sends: 720p30 x264 veryfast (its default tune) CBR 3.5 Mb/s, 2 s keyframes, AAC 160k. */
async function encodeInput(input: string): Promise<void> {
  const encode = runFfmpeg(
    publisherArgs(input, {
      size: '1280x720',
      fps: 30,
      seconds: SECONDS,
      realTime: false,
      zeroLatency: false,
      videoBitsPerSecond: 3_500_000,
      audioBitsPerSecond: 160_000,
    }),
  );
  if ((await encode.exited) !== 0) throw new Error(`encoding the input failed:\n${encode.stderr()}`);
}

/** An HTTP server that swallows the origin's fMP4 uploads; `received()` counts their bytes. */
async function startSink(): Promise<{ url: string; received: () => number; close: () => void }> {
  let received = 0;
  const sink = createServer((req, res) => {
    req.on('data', (d: Buffer) => {
      received += d.length;
    });
    req.on('end', () => res.end());
  });
  const url = await listen(sink, 0);
  return { url, received: () => received, close: () => sink.close() };
}

/** Transcodes `input` through `rungs` as the origin would, into the sink; one table row. */
async function measure(
  label: string,
  rungs: LadderRung[],
  input: string,
  sinkUrl: string,
): Promise<(string | number)[]> {
  const args = transcodeArgs({
    input: { kind: 'rtmp', url: input },
    ladder: rungs,
    fps: 30,
    segmentSeconds: 2,
    outputUrl: (name) => `${sinkUrl}/ingest/bench/${name}`,
  });
  const { cpu, wall } = await timed('ffmpeg', args);
  const perSec = cpu / SECONDS;
  process.stdout.write(
    `${label}: ${perSec.toFixed(2)} CPU s per input s, ${(SECONDS / wall).toFixed(2)}x real time\n`,
  );
  return [label, perSec.toFixed(2), `${((100 * perSec) / 2).toFixed(0)}%`, `${(SECONDS / wall).toFixed(2)}×`];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-transcode-'));
  const input = join(dir, 'obs-720p30.flv');
  await encodeInput(input);
  const sink = await startSink();
  const ladder = parseLadder(ORIGIN_CONFIG.ladder.default as string);
  const rows: (string | number)[][] = [];
  try {
    rows.push(
      await measure(`default ladder (${ladder.map((r) => r.name).join(', ')})`, ladder, input, sink.url),
    );
    rows.push(await measure('720p only', ladder.slice(0, 1), input, sink.url));
  } finally {
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
  writeReport(rows, sink.received());
}

function writeReport(rows: (string | number)[][], received: number): void {
  writeSection(
    'transcode',
    `## Transcode cost

\`npm run bench:transcode\`: ${SECONDS} s of 720p30 H.264/AAC input (as OBS sends it: x264 veryfast,
3.5 Mb/s, 2 s keyframes) through the origin's own ffmpeg arguments (\`origin/transcode-command.ts\`:
libx264 veryfast/zerolatency per rendition, aligned keyframes, 200 ms fMP4 fragments sent over HTTP
to a sink), as fast as ffmpeg can go. Run on ${new Date().toISOString().slice(0, 10)}; ${(received / 1e6).toFixed(0)} MB of fMP4 received.

${table(['ladder', 'CPU s per input s', 'share of this 2-core machine', 'speed when unthrottled'], rows)}

Target: faster than real time on 2 cores (speed above 1×, CPU below 2.0 s per input second). The origin
runs one such process per live stream.`,
  );
}

await main();
