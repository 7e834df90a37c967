import test from 'ava';
import { type PartProcess, stopPart } from '../../cli/part-process.ts';
import { startTestCluster, type TestCluster, waitForLive } from '../../harness/cluster.ts';
import { coordinatorRestart, redisRestart, transcoderKill } from '../../harness/drill-faults.ts';
import { type DrillResult, inProcessAudience, msnNow, runDrill } from '../../harness/drill-kit.ts';
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

function checkResult(t: import('ava').ExecutionContext, r: DrillResult, maxRecoveryMs: number): void {
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

/** What the control-plane faults are checked against: every relay, and clusterWhole. */
const check = { relayUrls: () => c.relays.map((x) => x.url), whole: clusterWhole };

test.serial('coordinator restart (SIGKILL, new process on the same port, Redis state)', async (t) => {
  const r = await runDrill({
    c,
    drill: 'coordinator restart',
    audience: () => inProcessAudience(c, VIEWERS, 'coord'),
    ...coordinatorRestart(c, redis.url, check, (p) => {
      coordinator = p;
    }),
  });
  checkResult(t, r, 10_000);
});

test.serial('Redis restart (empty) under the coordinator', async (t) => {
  const r = await runDrill({
    c,
    drill: 'Redis restart (state lost)',
    audience: () => inProcessAudience(c, VIEWERS, 'redis'),
    ...redisRestart(c, redis, check),
  });
  checkResult(t, r, 15_000);
});

test.serial('transcoder SIGKILL: the origin restarts ffmpeg, the sequence continues', async (t) => {
  let at = new Map<string, number>();
  const fault = transcoderKill(c, check.relayUrls, (pids) => t.log(`killing ffmpeg ${pids.join(', ')}`));
  const r = await runDrill({
    c,
    drill: 'transcoder (ffmpeg) SIGKILL',
    audience: () => inProcessAudience(c, VIEWERS, 'ffmpeg'),
    inject: async () => {
      at = await msnNow(c);
      return fault.inject();
    },
    // Recovered: a new ffmpeg runs and a segment it made is served by every relay.
    recovered: fault.recovered,
  });
  const playlist = await getText(`${c.origin.url}/live/demo/180p/index.m3u8`);
  t.true(playlist.includes('#EXT-X-DISCONTINUITY'), 'the restart is marked in the playlist');
  const after = await msnNow(c);
  for (const [rendition, msn] of at)
    t.true(after.get(rendition)! > msn, `${rendition}: the sequence continued`);
  checkResult(t, r, 10_000);
});
