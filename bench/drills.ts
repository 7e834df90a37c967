/**
 * Failure drills under simulated audience load, the same ones the drill tests run (hung relay–origin link,
 * relay SIGSTOP 10 s, transcoder kill, coordinator restart, Redis restart, relay SIGKILL) on one
 * cluster (coordinator on Redis, origin behind a TCP proxy, 4 relays) while N viewers watch from
 * forked simulator processes. Rewrites the `drills` section of docs/benchmarks.md.
 *   npm run bench:drills [-- --viewers 400 --relays 4]
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type PartProcess, spawnPart, stopPart } from '../cli/part-process.ts';
import { startTestCluster, type TestCluster, waitForLive } from '../harness/cluster.ts';
import {
  type Audience,
  type DrillResult,
  drillTable,
  freePort,
  msnNow,
  PLAYER_TIMEOUT_MS,
  runDrill,
  servesFreshSegments,
  sumViewers,
} from '../harness/drill-kit.ts';
import { HangingProxy } from '../harness/hanging-proxy.ts';
import { TestRedis } from '../harness/redis.ts';
import { table, writeSection } from './lib/report.ts';
import { ViewerPool } from './lib/viewer-pool.ts';

const { values } = parseArgs({
  options: {
    viewers: { type: 'string', default: '400' },
    relays: { type: 'string', default: '4' },
  },
});
const VIEWERS = Number(values.viewers);
const RELAYS = Number(values.relays);

function poolAudience(c: TestCluster, prefix: string): Audience {
  const pool = new ViewerPool({
    masterUrl: `${c.coordinator.url}/live/demo/master.m3u8`,
    viewers: VIEWERS,
    prefix,
    workers: Math.ceil(VIEWERS / 500),
    requestTimeoutMs: PLAYER_TIMEOUT_MS,
  });
  pool.start();
  return {
    stop: async () => sumViewers((await pool.stop()).viewers),
  };
}

async function main(): Promise<void> {
  const redis = await TestRedis.create();
  const proxy = new HangingProxy();
  const proxyUrl = await proxy.start();
  const originPort = await freePort();
  proxy.setTarget(originPort);
  let coordinator: PartProcess | undefined;
  const c = await startTestCluster({
    relays: RELAYS,
    coordinatorArgs: ['--redis-url', redis.url],
    originArgs: ['--port', String(originPort), '--public-url', proxyUrl],
  });
  const results: DrillResult[] = [];
  const all = () => c.relays.map((r) => r.url);
  const inRing = async (url: string) => (await c.cluster()).ring.relays.some((r) => r.url === url);
  const whole = async () => {
    const view = await c.cluster();
    return (
      view.ring.relays.length === c.relays.length &&
      view.streams.find((s) => s.id === 'demo')?.state === 'live'
    );
  };
  const drill = async (
    name: string,
    inject: () => Promise<number | undefined>,
    recovered: () => Promise<boolean>,
  ) => {
    process.stdout.write(`${name}…\n`);
    const r = await runDrill({
      c,
      drill: name,
      audience: () => poolAudience(c, name.replace(/\W+/g, '-')),
      inject,
      recovered,
    });
    process.stdout.write(`${JSON.stringify(r)}\n`);
    results.push(r);
  };
  try {
    await waitForLive(c, 'demo', 3);
    let at = new Map<string, number>();
    const mark = async () => {
      at = await msnNow(c);
    };
    await drill(
      'relay–origin link hangs (TCP proxy stops forwarding)',
      async () => {
        await mark();
        proxy.cut(c.relays[1]!.child.pid!);
        return undefined;
      },
      () => servesFreshSegments(c.origin.url, all(), at),
    );
    proxy.heal();
    const stopped = c.relays[2]!;
    await drill(
      'relay SIGSTOP for 10 s',
      async () => {
        stopped.child.kill('SIGSTOP');
        await new Promise((r) => setTimeout(r, 10_000)); // the fault's duration
        stopped.child.kill('SIGCONT');
        const resumed = Date.now();
        await mark();
        return resumed;
      },
      async () => (await inRing(stopped.url)) && servesFreshSegments(c.origin.url, all(), at),
    );
    let restarted: Map<string, number> | undefined;
    let killed: number[] = [];
    const ffmpeg = () => {
      try {
        const out = execFileSync('pgrep', ['-P', String(c.origin.child.pid), 'ffmpeg'], { encoding: 'utf8' });
        return out.trim().split('\n').filter(Boolean).map(Number);
      } catch {
        return [];
      }
    };
    await drill(
      'transcoder (ffmpeg) SIGKILL',
      async () => {
        killed = ffmpeg();
        for (const pid of killed) process.kill(pid, 'SIGKILL');
        return undefined;
      },
      async () => {
        if (!restarted) {
          const now = ffmpeg();
          if (now.length === 0 || now.some((p) => killed.includes(p))) return false;
          restarted = await msnNow(c);
        }
        return servesFreshSegments(c.origin.url, all(), restarted);
      },
    );
    const port = new URL(c.coordinator.url).port;
    await drill(
      'coordinator restart',
      async () => {
        await mark();
        const killedAt = Date.now();
        c.coordinator.child.kill('SIGKILL');
        await c.coordinator.exited;
        coordinator = await spawnPart({
          part: 'coordinator',
          args: ['--port', port, '--redis-url', redis.url],
          env: { RINGCAST_CLUSTER_SECRET: c.secret, RINGCAST_LOG_LEVEL: 'info' },
          logFile: join(c.dir, 'coordinator-2.log'),
        });
        return killedAt;
      },
      async () => (await whole()) && servesFreshSegments(c.origin.url, all(), at),
    );
    await drill(
      'Redis restart (state lost)',
      async () => {
        await mark();
        const stoppedAt = Date.now();
        await redis.stop();
        await redis.start();
        return stoppedAt;
      },
      async () => (await whole()) && servesFreshSegments(c.origin.url, all(), at),
    );
    const victim = c.relays[0]!;
    await drill(
      'relay SIGKILL',
      async () => {
        await mark();
        victim.child.kill('SIGKILL');
        return undefined;
      },
      async () => !(await inRing(victim.url)) && servesFreshSegments(c.origin.url, all().slice(1), at),
    );
  } finally {
    for (const r of c.relays) r.child.kill('SIGCONT');
    if (coordinator) await stopPart(coordinator, 3000);
    await c.stop();
    await proxy.close();
    await redis.destroy();
  }
  writeSection(
    'drills',
    `## Failure drills under load

\`npm run bench:drills -- --viewers ${VIEWERS} --relays ${RELAYS}\`: coordinator on Redis, origin (test
pattern, 320x180 and 160x90) reached by the relays through a TCP proxy, ${RELAYS} relays, ${VIEWERS}
simulated viewers (player timeout ${PLAYER_TIMEOUT_MS / 1000} s, as the player demo's hls.js) in forked
processes; all on this 2-core machine. The same drills, with 8 viewers and assertions, are
in the test suite; \`docs/reliability.md\` says where, and what each one does and counts. Run on
${new Date().toISOString().slice(0, 10)}.

${drillTable(results)}

Recovery: from the fault (or its end, for SIGSTOP) until a segment published after it is served, with the
origin's bytes, by every relay in the ring (plus, for control-plane faults, all relays back in the ring and
the stream live). It includes up to one segment duration (2 s) of waiting for that segment. Origin requests
per published segment are counted from just before the fault to 8 segments after recovery; the
windows are short (10-20 segments), so one extra origin fetch moves the ratio by 0.05-0.1.

${table(
  ['drill', 'notes'],
  results.map((r) => [r.drill, r.notes.join('; ') || '–']),
)}`,
  );
}

await main();
