import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import test from 'ava';
import { type PartProcess, spawnPart, stopPart } from '../../cli/part-process.ts';
import { startTestCluster, type TestCluster, waitForLive } from '../../harness/cluster.ts';
import {
  type DrillResult,
  inProcessAudience,
  msnNow,
  runDrill,
  servesFreshSegments,
} from '../../harness/drill-kit.ts';
import { TestRedis } from '../../harness/redis.ts';
import { getText } from '../../harness/wait.ts';

// Control-plane and transcoder faults with the coordinator on Redis, while 8 simulated viewers watch:
// the coordinator restarted (SIGKILL, then a new process on the same port), Redis restarted (empty:
// it keeps nothing on disk here), the origin's ffmpeg killed.
let c: TestCluster;
let redis: TestRedis;
let coordinator: PartProcess | undefined;
const VIEWERS = 8;
const results: DrillResult[] = [];

test.before(async () => {
  redis = await TestRedis.create();
  c = await startTestCluster({ relays: 3, coordinatorArgs: ['--redis-url', redis.url] });
  await waitForLive(c, 'demo', 3);
});

test.after.always(async () => {
  if (coordinator) await stopPart(coordinator, 3000);
  await c?.stop();
  await redis?.destroy();
  for (const r of results) console.log(JSON.stringify(r));
});

/** The whole cluster is back: every relay in the ring, the stream live, the coordinator's master answers. */
async function clusterWhole(): Promise<boolean> {
  const view = await c.cluster();
  if (view.ring.relays.length !== c.relays.length) return false;
  if (view.streams.find((s) => s.id === 'demo')?.state !== 'live') return false;
  await getText(`${c.coordinator.url}/live/demo/master.m3u8?session=probe`);
  return true;
}

function check(t: import('ava').ExecutionContext, r: DrillResult, maxRecoveryMs: number): void {
  results.push(r);
  t.log(JSON.stringify(r));
  t.is(r.viewers.stalls, 0, `stalls: ${r.viewers.lastError ?? ''}`);
  t.true(
    r.viewers.minSegments >= 4,
    `every viewer kept receiving segments (fewest ${r.viewers.minSegments})`,
  );
  t.true(r.recoveryMs <= maxRecoveryMs, `recovered in ${r.recoveryMs} ms`);
  t.true(r.originRatio <= 1.5, `origin requests per published segment ${r.originRatio}`);
}

test.serial('coordinator restart (SIGKILL, new process on the same port, Redis state)', async (t) => {
  const port = new URL(c.coordinator.url).port;
  let at = new Map<string, number>();
  const r = await runDrill({
    c,
    drill: 'coordinator restart',
    audience: () => inProcessAudience(c, VIEWERS, 'coord'),
    inject: async () => {
      at = await msnNow(c);
      const killed = Date.now();
      c.coordinator.child.kill('SIGKILL');
      await c.coordinator.exited;
      coordinator = await spawnPart({
        part: 'coordinator',
        args: ['--port', port, '--redis-url', redis.url],
        env: { RINGCAST_CLUSTER_SECRET: c.secret, RINGCAST_LOG_LEVEL: 'info' },
        logFile: join(c.dir, 'coordinator-2.log'),
      });
      return killed;
    },
    recovered: async () =>
      (await clusterWhole()) &&
      servesFreshSegments(
        c.origin.url,
        c.relays.map((x) => x.url),
        at,
      ),
  });
  check(t, r, 10_000);
});

test.serial('Redis restart (empty) under the coordinator', async (t) => {
  let at = new Map<string, number>();
  const r = await runDrill({
    c,
    drill: 'Redis restart (state lost)',
    audience: () => inProcessAudience(c, VIEWERS, 'redis'),
    inject: async () => {
      at = await msnNow(c);
      const stopped = Date.now();
      await redis.stop();
      await redis.start();
      return stopped;
    },
    recovered: async () =>
      (await clusterWhole()) &&
      servesFreshSegments(
        c.origin.url,
        c.relays.map((x) => x.url),
        at,
      ),
  });
  check(t, r, 15_000);
});

test.serial('transcoder SIGKILL: the origin restarts ffmpeg, the sequence continues', async (t) => {
  const ffmpegPids = () => {
    try {
      return execFileSync('pgrep', ['-P', String(c.origin.child.pid), 'ffmpeg'], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  };
  let killed: number[] = [];
  let at = new Map<string, number>();
  let restarted: Map<string, number> | undefined;
  const r = await runDrill({
    c,
    drill: 'transcoder (ffmpeg) SIGKILL',
    audience: () => inProcessAudience(c, VIEWERS, 'ffmpeg'),
    inject: async () => {
      at = await msnNow(c);
      killed = ffmpegPids();
      t.log(`killing ffmpeg ${killed.join(', ')}`);
      for (const pid of killed) process.kill(pid, 'SIGKILL');
      return undefined;
    },
    // Recovered: a new ffmpeg runs and a segment it made is served by every relay.
    recovered: async () => {
      if (!restarted) {
        const now = ffmpegPids();
        if (now.length === 0 || now.some((p) => killed.includes(p))) return false;
        restarted = await msnNow(c);
      }
      return servesFreshSegments(
        c.origin.url,
        c.relays.map((x) => x.url),
        restarted,
      );
    },
  });
  const playlist = await getText(`${c.origin.url}/live/demo/180p/index.m3u8`);
  t.true(playlist.includes('#EXT-X-DISCONTINUITY'), 'the restart is marked in the playlist');
  const after = await msnNow(c);
  for (const [rendition, msn] of at)
    t.true(after.get(rendition)! > msn, `${rendition}: the sequence continued`);
  check(t, r, 10_000);
});
