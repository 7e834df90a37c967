import test from 'ava';
import { TestRedis } from '../../harness/redis.ts';
import { waitFor } from '../../harness/wait.ts';
import {
  call,
  coordinatorsOnRedis,
  heartbeat,
  putStream,
  registerRelay,
  SseClient,
  segmentBody,
  startCoordinator,
  type TestCoordinator,
} from './helpers.ts';

/** Heartbeats like a relay: registers again whenever the coordinator does not know it. */
function keepAlive(c: TestCoordinator, id: string, url: string): () => void {
  let stopped = false;
  void (async () => {
    while (!stopped) {
      const res = await heartbeat(c.url, id).catch(() => undefined);
      if (res?.status === 404) await registerRelay(c.url, id, url).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  return () => {
    stopped = true;
  };
}

const ids = (ring: { relays: Array<{ id: string }> }) => ring.relays.map((r) => r.id).join(',');

test.serial('two coordinators on one Redis share relays, streams and events', async (t) => {
  const {
    coordinators: [a, b],
  } = await coordinatorsOnRedis(t, 2);
  t.is((await call(`${a.url}/healthz`)).body.store.kind, 'redis');

  const sseB = await SseClient.open(`${b.url}/api/v1/events`);
  t.teardown(() => sseB.close());
  await sseB.waitFor('snapshot');
  t.is((await registerRelay(a.url, 'r1', 'http://127.0.0.1:9001')).status, 200);
  const ring = await sseB.waitFor('ring', (d) => ids(d) === 'r1');
  t.is((await call(`${b.url}/api/v1/ring`)).body.version, ring.version);
  // A heartbeat to the other coordinator finds the relay.
  t.is((await heartbeat(b.url, 'r1')).status, 200);

  t.is((await putStream(b.url, 'demo')).status, 200);
  await waitFor(async () => (await call(`${a.url}/api/v1/cluster`)).body.streams.length === 1, {
    timeoutMs: 5000,
    what: 'stream on coordinator A',
  });
  t.is((await call(`${a.url}/api/v1/streams/demo/segments`, { body: segmentBody('demo', 7) })).status, 202);
  t.is((await sseB.waitFor('segment', (d) => d.msn === 7)).file, '7.m4s');
  // A master from B uses the relay registered at A.
  t.regex(
    await (await fetch(`${b.url}/live/demo/master.m3u8?session=x`)).text(),
    /127\.0\.0\.1:9001\/live\/demo\/720p/,
  );
});

test.serial(
  'Redis stops and restarts: last known ring served meanwhile, streams kept, cluster heals',
  async (t) => {
    const {
      redis,
      coordinators: [a],
    } = await coordinatorsOnRedis(t, 1);
    const stopBeats = keepAlive(a, 'r1', 'http://127.0.0.1:9001');
    t.teardown(stopBeats);
    await registerRelay(a.url, 'r1', 'http://127.0.0.1:9001');
    await putStream(a.url, 'demo');
    const before = (await call(`${a.url}/api/v1/ring`)).body;

    await redis.stop();
    await waitFor(async () => (await call(`${a.url}/healthz`)).body.status === 'degraded', {
      timeoutMs: 5000,
      what: 'degraded health',
    });
    const master = await fetch(`${a.url}/live/demo/master.m3u8?session=v1`);
    t.is(master.status, 200);
    t.regex(await master.text(), /PATHWAY-ID="r1"/);
    const write = await registerRelay(a.url, 'r2', 'http://127.0.0.1:9002');
    t.is(write.status, 503);
    t.is(write.body.error.code, 'RC_STORE_UNAVAILABLE');

    await redis.start();
    await waitFor(async () => (await call(`${a.url}/healthz`)).body.status === 'ok', {
      timeoutMs: 10_000,
      what: 'healthy again',
    });
    // A coordinator that starts now reads everything from the restarted Redis.
    const b = await startCoordinator({ redisUrl: redis.url });
    t.teardown(() => b.close());
    const cluster = await waitFor(
      async () => {
        const view = (await call(`${b.url}/api/v1/cluster`)).body;
        return view.streams.length === 1 && ids(view.ring) === 'r1' ? view : undefined;
      },
      { timeoutMs: 10_000, what: 'cluster healed on a fresh coordinator' },
    );
    t.is(cluster.streams[0].id, 'demo');
    t.true(cluster.ring.version >= before.version);
    // The relay's heartbeats land again without it having to register anew.
    t.is((await heartbeat(a.url, 'r1')).status, 200);
  },
);

test.serial('a coordinator started while Redis is down serves degraded and recovers by itself', async (t) => {
  const redis = await TestRedis.create();
  t.teardown(() => redis.destroy());
  await redis.stop();
  const a = await startCoordinator({ redisUrl: redis.url });
  t.teardown(() => a.close());
  const health = (await call(`${a.url}/healthz`)).body;
  t.is(health.status, 'degraded');
  t.false(health.store.available);
  t.is((await registerRelay(a.url, 'r1', 'http://127.0.0.1:9001')).status, 503);
  const metrics = await (await fetch(`${a.url}/metrics`)).text();
  t.regex(metrics, /ringcast_coordinator_store_up 0/);
  await redis.start();
  await waitFor(async () => (await registerRelay(a.url, 'r1', 'http://127.0.0.1:9001')).status === 200, {
    timeoutMs: 10_000,
    what: 'registration once Redis is up',
  });
  t.is((await call(`${a.url}/healthz`)).body.status, 'ok');
  t.is(ids((await call(`${a.url}/api/v1/ring`)).body), 'r1');
});

test.serial(
  'two coordinators behind one address: a steering request at the other one keeps the relay the player is on while it is within its cap there',
  async (t) => {
    const {
      coordinators: [a, b],
    } = await coordinatorsOnRedis(t, 2);
    for (let i = 1; i <= 3; i++) await registerRelay(a.url, `r${i}`, `http://127.0.0.${i}:${9000 + i}`);
    await putStream(a.url, 'demo');
    await waitFor(
      async () => {
        const view = (await call(`${b.url}/api/v1/cluster`)).body;
        return view.streams.length === 1 && ids(view.ring) === 'r1,r2,r3';
      },
      { timeoutMs: 5000, what: 'B sees the relays and the stream' },
    );
    // B has viewers of its own that A never saw, so the two coordinators' loads differ.
    const countsAtB = new Map<string, number>();
    const countAtB = (id: string) => countsAtB.set(id, (countsAtB.get(id) ?? 0) + 1);
    for (let i = 0; i < 10; i++) {
      const text = await (await fetch(`${b.url}/live/demo/master.m3u8?session=b-only-${i}`)).text();
      countAtB(/PATHWAY-ID="([^"]+)"/.exec(text)![1]!);
    }
    // The cap of viewer-balancer.ts for three equal relays, for one more session than `placed`.
    const capFor = (placed: number) =>
      Math.max(Math.ceil((placed + 1) / 3), Math.floor((1.1 * (placed + 1)) / 3));
    const placed: string[] = [];
    let kept = 0;
    for (let i = 0; i < 30; i++) {
      const text = await (await fetch(`${a.url}/live/demo/master.m3u8?session=v${i}`)).text();
      const pathway = /PATHWAY-ID="([^"]+)"/.exec(text)![1]!;
      placed.push(pathway);
      // The player's next steering reload reaches B, naming the pathway it plays from.
      const m = (await call(`${b.url}/steer/demo?session=v${i}&_HLS_pathway=${pathway}`)).body;
      const steered: string = m['PATHWAY-PRIORITY'][0];
      // B keeps the player where it is exactly when that relay is within its bounded-load cap at B.
      const withinCap = (countsAtB.get(pathway) ?? 0) + 1 <= capFor(10 + i);
      t.is(steered === pathway, withinCap, `v${i} on ${pathway}, steered to ${steered}`);
      if (steered === pathway) kept++;
      countAtB(steered);
    }
    t.log(`${kept} of 30 players kept their relay`);
    t.true(kept >= 20, `most players keep their relay: ${kept} of 30`);
    t.is(new Set(placed).size, 3, 'A spread the sessions over all relays');
  },
);
