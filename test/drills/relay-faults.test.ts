import test from 'ava';
import { startTestCluster, type TestCluster, waitForLive } from '../../harness/cluster.ts';
import {
  type DrillResult,
  freePort,
  inProcessAudience,
  msnNow,
  PLAYER_TIMEOUT_MS,
  runDrill,
  servesFreshSegments,
} from '../../harness/drill-kit.ts';
import { HangingProxy } from '../../harness/hanging-proxy.ts';
import { waitFor } from '../../harness/wait.ts';

// Relay faults while 8 simulated viewers watch through the coordinator: a TCP link to the origin that
// hangs, a relay stopped for 10 s (hung, not dead), a relay killed. The relays reach the origin through
// a proxy (the origin announces the proxy as its URL), so one relay's link can be cut alone.
let c: TestCluster;
const proxy = new HangingProxy();
const VIEWERS = 8;
const results: DrillResult[] = [];

test.before(async () => {
  const proxyUrl = await proxy.start();
  const originPort = await freePort();
  proxy.setTarget(originPort);
  // c.origin.url is the proxy's URL (the origin logs its public URL); the test's own requests pass
  // through the proxy too, and are never cut.
  c = await startTestCluster({
    relays: 3,
    originArgs: ['--port', String(originPort), '--public-url', proxyUrl],
  });
  await waitForLive(c, 'demo', 3);
});

test.after.always(async () => {
  for (const r of c?.relays ?? []) r.child.kill('SIGCONT');
  await c?.stop();
  await proxy.close();
  for (const r of results) console.log(JSON.stringify(r));
});

const inRing = async (url: string) => (await c.cluster()).ring.relays.some((r) => r.url === url);

/**
 * Asserts a drill's outcome. `hungMs` > 0: viewers whose request was in flight to a hung node wait for
 * their player's timeout (PLAYER_TIMEOUT_MS) and may stall once, for at most that long minus their buffer.
 */
function check(t: import('ava').ExecutionContext, r: DrillResult, maxRecoveryMs: number, hungMs = 0): void {
  results.push(r);
  t.log(JSON.stringify(r));
  if (hungMs === 0) t.is(r.viewers.stalls, 0, `stalls: ${r.viewers.lastError ?? ''}`);
  else {
    t.true(r.viewers.stalls <= r.viewers.viewers, `at most one stall per viewer (${r.viewers.stalls})`);
    t.true(r.viewers.stallMs <= r.viewers.stalls * hungMs, `stalled ${r.viewers.stallMs} ms in all`);
  }
  t.true(
    r.viewers.minSegments >= 4,
    `every viewer kept receiving segments (fewest ${r.viewers.minSegments})`,
  );
  t.true(r.recoveryMs <= maxRecoveryMs, `recovered in ${r.recoveryMs} ms`);
  t.true(r.originRatio <= 1.5, `origin requests per published segment ${r.originRatio}`);
}

test.serial(
  'link from one relay to the origin hangs: its owned segments come through the ring',
  async (t) => {
    const victim = c.relays[1]!;
    let at = new Map<string, number>();
    try {
      const r = await runDrill({
        c,
        drill: 'relay–origin link hangs (TCP proxy stops forwarding)',
        audience: () => inProcessAudience(c, VIEWERS, 'cut'),
        inject: async () => {
          at = await msnNow(c);
          proxy.cut(victim.child.pid!);
          return undefined;
        },
        recovered: () =>
          servesFreshSegments(
            c.origin.url,
            c.relays.map((x) => x.url),
            at,
          ),
      });
      check(t, r, 15_000, PLAYER_TIMEOUT_MS);
    } finally {
      proxy.heal();
    }
  },
);

test.serial(
  'a relay hung by SIGSTOP for 10 s leaves the ring and comes back; a viewer stalls at most once, within the player timeout',
  async (t) => {
    const victim = c.relays[2]!;
    let left = false;
    let at = new Map<string, number>();
    const r = await runDrill({
      c,
      drill: 'relay SIGSTOP for 10 s',
      audience: () => inProcessAudience(c, VIEWERS, 'stop'),
      inject: async () => {
        victim.child.kill('SIGSTOP');
        const stoppedAt = Date.now();
        try {
          left = await waitFor(async () => !(await inRing(victim.url)), {
            timeoutMs: 9000,
            what: 'hung relay out of the ring',
          }).catch(() => false);
          const rest = 10_000 - (Date.now() - stoppedAt);
          if (rest > 0) await new Promise((res) => setTimeout(res, rest)); // the fault's duration, not a sync
        } finally {
          victim.child.kill('SIGCONT');
        }
        const resumedAt = Date.now();
        at = await msnNow(c);
        return resumedAt;
      },
      recovered: async () =>
        (await inRing(victim.url)) &&
        servesFreshSegments(
          c.origin.url,
          c.relays.map((x) => x.url),
          at,
        ),
    });
    t.true(left, 'the hung relay left the ring while stopped');
    check(t, r, 10_000, PLAYER_TIMEOUT_MS);
  },
);

test.serial('SIGKILL of a relay: viewers move by steering, the rest serve fresh segments', async (t) => {
  const victim = c.relays[0]!;
  let at = new Map<string, number>();
  const r = await runDrill({
    c,
    drill: 'relay SIGKILL',
    audience: () => inProcessAudience(c, VIEWERS, 'kill'),
    inject: async () => {
      at = await msnNow(c);
      victim.child.kill('SIGKILL');
      return undefined;
    },
    recovered: async () =>
      !(await inRing(victim.url)) &&
      servesFreshSegments(
        c.origin.url,
        c.relays.slice(1).map((x) => x.url),
        at,
      ),
  });
  check(t, r, 8000);
});
