/**
 * Relay against nginx: the same 1 MB segment and the same media playlist, one relay process and one
 * nginx worker pinned to core 0, wrk on core 1, in one run. Writes docs/benchmarks.md.
 *   npm run bench:relay [-- --seconds 10 --connections 32]
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnPart, stopPart } from '../cli/part-process.ts';
import { callJson, listen } from '../common/http.ts';
import { startNginx } from './lib/nginx.ts';
import { pin, type WrkResult, wrk } from './lib/processes.ts';
import { table, writeSection } from './lib/report.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '32' } },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);

const SEGMENT = randomBytes(1024 * 1024);
const PLAYLIST = Buffer.from(
  `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:100\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI="init-0a1b2c3d.mp4"\n${Array.from(
    { length: 6 },
    (_, i) =>
      `#EXT-X-PROGRAM-DATE-TIME:2026-11-26T12:00:${String(i * 2).padStart(2, '0')}.000Z\n#EXTINF:2.000,\n${100 + i}.m4s`,
  ).join('\n')}\n`,
);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-bench-'));
  const root = join(dir, 'www');
  mkdirSync(join(root, 'live/bench/720p'), { recursive: true });
  writeFileSync(join(root, 'live/bench/720p/100.m4s'), SEGMENT);
  writeFileSync(join(root, 'live/bench/720p/index.m3u8'), PLAYLIST);

  // A static origin for the relay to fill from (only the first request and playlist refreshes reach it).
  const origin = createServer((req, res) => {
    const body = req.url?.endsWith('.m3u8') ? PLAYLIST : req.url?.endsWith('100.m4s') ? SEGMENT : undefined;
    if (!body) return res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'video/iso.segment' });
    res.end(body);
  });
  const originUrl = await listen(origin, 0);
  const secret = 'bench-secret';
  const env = { RINGCAST_CLUSTER_SECRET: secret, RINGCAST_LOG_LEVEL: 'warn' };
  const coordinator = await spawnPart({
    part: 'coordinator',
    args: ['--port', '0'],
    env: { ...env, RINGCAST_LOG_LEVEL: 'info' },
  });
  await callJson(`${coordinator.url}/api/v1/streams/bench`, {
    method: 'PUT',
    secret,
    body: {
      state: 'live',
      originUrl,
      renditions: [{ name: '720p', bandwidth: 3_000_000 }],
      targetDuration: 2,
    },
  });
  const relay = await spawnPart({
    part: 'relay',
    args: ['--port', '0', '--coordinator-url', coordinator.url],
    env: { ...env, RINGCAST_LOG_LEVEL: 'info' },
  });
  pin(relay.child.pid!, 0);
  const nginx = await startNginx(dir, root, 0);

  const results: { target: string; object: string; r: WrkResult }[] = [];
  try {
    for (const [object, path] of [
      ['1 MB segment', '/live/bench/720p/100.m4s'],
      ['playlist (~700 B)', '/live/bench/720p/index.m3u8'],
    ] as const) {
      for (const [target, base] of [
        ['nginx', nginx.url],
        ['relay', relay.url],
      ] as const) {
        const warm = await fetch(base + path);
        if (!warm.ok) throw new Error(`${target} ${path}: ${warm.status}`);
        await warm.arrayBuffer();
        const r = await wrk(base + path, { core: 1, seconds, connections });
        process.stdout.write(
          `${target.padEnd(6)} ${object.padEnd(18)} ${r.requestsPerSec.toFixed(0)} req/s\n`,
        );
        results.push({ target, object, r });
      }
    }
  } finally {
    nginx.stop();
    await stopPart(relay, 3000);
    await stopPart(coordinator, 3000);
    origin.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = ['1 MB segment', 'playlist (~700 B)'].map((object) => {
    const n = results.find((x) => x.object === object && x.target === 'nginx')!.r;
    const rl = results.find((x) => x.object === object && x.target === 'relay')!.r;
    return [
      object,
      n.requestsPerSec.toFixed(0),
      rl.requestsPerSec.toFixed(0),
      `${(rl.requestsPerSec / n.requestsPerSec).toFixed(2)}×`,
      `${n.latencyP99} / ${rl.latencyP99}`,
      `${n.non2xx + rl.non2xx}`,
    ];
  });
  writeSection(
    'relay-throughput',
    `## Relay throughput against nginx

\`npm run bench:relay\` (${seconds} s per run, wrk \`-t1 -c${connections}\` on core 1; one relay process and one
nginx worker (Debian's nginx, sendfile on) pinned to core 0; both answer from a warm cache: the relay
from memory, nginx from the page cache). Run on ${new Date().toISOString().slice(0, 10)}.

${table(['object', 'nginx req/s', 'relay req/s', 'relay / nginx', 'p99 latency nginx / relay', 'non-2xx'], rows)}

Targets: segments at or above 1.0×, playlists at 0.8× or better.`,
  );
}

await main();
