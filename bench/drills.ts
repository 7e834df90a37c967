/**
 * Failure drills under simulated audience load, the same ones the drill tests run (hung relay–origin link,
 * relay SIGSTOP 10 s, transcoder kill, coordinator restart, Redis restart, relay SIGKILL) on one
 * cluster (coordinator on Redis, origin behind a TCP proxy, 4 relays) while N viewers watch from
 * forked simulator processes. Rewrites the `drills` section of docs/benchmarks.md.
 *   npm run bench:drills [-- --viewers 400 --relays 4]
 */
import { parseArgs } from 'node:util';
import { type PartProcess, stopPart } from '../cli/part-process.ts';
import { startTestCluster, type TestCluster, waitForLive } from '../harness/cluster.ts';
import { coordinatorRestart, type Fault, redisRestart, transcoderKill } from '../harness/drill-faults.ts';
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

/** The drills' cluster: coordinator on Redis, the origin reached by the relays through the hanging proxy. */
async function startDrillCluster(): Promise<{ c: TestCluster; redis: TestRedis; proxy: HangingProxy }> {
  const redis = await TestRedis.create();
  const proxy = new HangingProxy();
  const proxyUrl = await proxy.start();
  const originPort = await freePort();
  proxy.setTarget(originPort);
  const c = await startTestCluster({
    relays: RELAYS,
    coordinatorArgs: ['--redis-url', redis.url],
    originArgs: ['--port', String(originPort), '--public-url', proxyUrl],
  });
  return { c, redis, proxy };
}

/** One drill under the pooled audience, its result printed as it ends. */
async function drill(c: TestCluster, name: string, fault: Fault): Promise<DrillResult> {
  process.stdout.write(`${name}…\n`);
  const audience = () => poolAudience(c, name.replace(/\W+/g, '-'));
  const r = await runDrill({ c, drill: name, audience, ...fault });
  process.stdout.write(`${JSON.stringify(r)}\n`);
  return r;
}

/** The relay faults: a hung link to the origin, a relay stopped 10 s, a relay killed. */
function relayFaults(c: TestCluster, proxy: HangingProxy, all: () => string[]) {
  let at = new Map<string, number>();
  const mark = async () => {
    at = await msnNow(c);
  };
  const inRing = async (url: string) => (await c.cluster()).ring.relays.some((r) => r.url === url);
  const [hung, stopped, victim] = [c.relays[1]!, c.relays[2]!, c.relays[0]!];
  const linkHang: Fault = {
    inject: async () => {
      await mark();
      proxy.cut(hung.child.pid!);
      return undefined;
    },
    recovered: () => servesFreshSegments(c.origin.url, all(), at),
  };
  const sigstop: Fault = {
    inject: async () => {
      stopped.child.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 10_000)); // the fault's duration
      stopped.child.kill('SIGCONT');
      const resumed = Date.now();
      await mark();
      return resumed;
    },
    recovered: async () => (await inRing(stopped.url)) && servesFreshSegments(c.origin.url, all(), at),
  };
  const sigkill: Fault = {
    inject: async () => {
      await mark();
      victim.child.kill('SIGKILL');
      return undefined;
    },
    recovered: async () =>
      !(await inRing(victim.url)) && servesFreshSegments(c.origin.url, all().slice(1), at),
  };
  return { linkHang, sigstop, sigkill };
}

/** Every drill in turn, on one cluster; a new coordinator is handed to `started` for the caller to stop. */
async function runDrills(
  c: TestCluster,
  redis: TestRedis,
  proxy: HangingProxy,
  started: (coordinator: PartProcess) => void,
): Promise<DrillResult[]> {
  const all = () => c.relays.map((r) => r.url);
  const whole = async () => {
    const view = await c.cluster();
    return (
      view.ring.relays.length === c.relays.length &&
      view.streams.find((s) => s.id === 'demo')?.state === 'live'
    );
  };
  const relay = relayFaults(c, proxy, all);
  const results = [await drill(c, 'relay–origin link hangs (TCP proxy stops forwarding)', relay.linkHang)];
  proxy.heal();
  results.push(await drill(c, 'relay SIGSTOP for 10 s', relay.sigstop));
  results.push(await drill(c, 'transcoder (ffmpeg) SIGKILL', transcoderKill(c, all)));
  const check = { relayUrls: all, whole };
  results.push(await drill(c, 'coordinator restart', coordinatorRestart(c, redis.url, check, started)));
  results.push(await drill(c, 'Redis restart (state lost)', redisRestart(c, redis, check)));
  results.push(await drill(c, 'relay SIGKILL', relay.sigkill));
  return results;
}

async function main(): Promise<void> {
  const { c, redis, proxy } = await startDrillCluster();
  let coordinator: PartProcess | undefined;
  let results: DrillResult[];
  try {
    await waitForLive(c, 'demo', 3);
    results = await runDrills(c, redis, proxy, (p) => {
      coordinator = p;
    });
  } finally {
    for (const r of c.relays) r.child.kill('SIGCONT');
    if (coordinator) await stopPart(coordinator, 3000);
    await c.stop();
    await proxy.close();
    await redis.destroy();
  }
  writeReport(results);
}

/** Rewrites the `drills` section of docs/benchmarks.md. */
function writeReport(results: DrillResult[]): void {
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
