import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type PartProcess, stopPart } from '../../cli/part-process.ts';
import { SseParser } from '../../common/sse.ts';
import {
  clusterView,
  spawnTestCoordinator,
  spawnTestOrigin,
  spawnTestRelays,
  waitForStream,
} from '../../harness/cluster.ts';
import { readHls } from '../../harness/hls-reader.ts';
import { parseMaster } from '../../harness/master.ts';
import { TestRedis } from '../../harness/redis.ts';
import { getText, sumMetric, waitFor } from '../../harness/wait.ts';

// Two coordinators sharing one Redis, two relays and an origin that know both; then one coordinator dies.
const dir = mkdtempSync(join(tmpdir(), 'ringcast-coordinators-'));
const env = { RINGCAST_CLUSTER_SECRET: `secret-${process.pid}`, RINGCAST_LOG_LEVEL: 'info' };
const parts: PartProcess[] = [];
let redis: TestRedis;
let a: PartProcess;
let b: PartProcess;
let origin: PartProcess;

const cluster = (c: PartProcess) => clusterView(c.url);
const published = async () =>
  sumMetric(await getText(`${origin.url}/metrics`), 'ringcast_origin_segments_published_total');

test.before(async () => {
  redis = await TestRedis.create();
  const at = { env, dir };
  const coordinator = (name: string) => spawnTestCoordinator(at, ['--redis-url', redis.url], name);
  [a, b] = await Promise.all([coordinator('a'), coordinator('b')]);
  parts.push(a, b);
  parts.push(...(await spawnTestRelays(at, 2, `${a.url},${b.url}`)));
  origin = await spawnTestOrigin(at, { coordinatorUrl: `${a.url},${b.url}` });
  parts.push(origin);
  await waitFor(async () => (await cluster(b)).ring.relays.length === 2, { what: 'both relays in the ring' });
  await waitForStream(b.url, origin.url, 'demo', 2);
});

test.after.always(async () => {
  await Promise.all(parts.map((p) => stopPart(p, 3000)));
  await redis?.destroy();
  if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
});

test.serial('a relay registered through one coordinator is in the ring of the other', async (t) => {
  const [viewA, viewB] = await Promise.all([cluster(a), cluster(b)]);
  t.deepEqual(viewA.ring.relays.map((r) => r.id).sort(), viewB.ring.relays.map((r) => r.id).sort());
  t.is(viewA.ring.version, viewB.ring.version);
});

test.serial('killing one coordinator leaves playback through the relays working', async (t) => {
  const controller = new AbortController();
  const readers = [a, b].flatMap((c) =>
    [0, 1, 2].map((i) =>
      readHls({
        masterUrl: `${c.url}/live/demo/master.m3u8?session=${c === a ? 'a' : 'b'}-${i}`,
        signal: controller.signal,
      }),
    ),
  );
  const start = await published();
  await waitFor(async () => (await published()) >= start + 2, { timeoutMs: 20_000, what: 'two segments' });
  // Segment events the surviving coordinator sends after the kill: the origin must announce through it.
  let eventsAfterKill = 0;
  let killed = false;
  const events = await fetch(`${b.url}/api/v1/events`, {
    headers: { authorization: `Bearer ${env.RINGCAST_CLUSTER_SECRET}` },
    signal: controller.signal,
  });
  const sse = new SseParser((event) => {
    if (event === 'segment' && killed) eventsAfterKill++;
  });
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of events.body!) sse.push(decoder.decode(chunk as Uint8Array, { stream: true }));
  })().catch(() => {});
  a.child.kill('SIGKILL');
  killed = true;
  const killedAt = Date.now();
  // Past the relay timeout (3 s): the relays must have moved their heartbeats to B, or B drops them.
  await waitFor(async () => (await published()) >= start + 8, {
    timeoutMs: 30_000,
    what: 'six more segments',
  });
  t.true(Date.now() - killedAt > 4000);
  const view = await cluster(b);
  t.is(view.ring.relays.length, 2, 'both relays still in the ring of the surviving coordinator');
  const master = parseMaster(await getText(`${b.url}/live/demo/master.m3u8?session=late-viewer`));
  t.true(master.variants.length >= 2, 'a new viewer gets a master from the surviving coordinator');
  t.true(eventsAfterKill >= 4, `segment events through the surviving coordinator: ${eventsAfterKill}`);
  controller.abort();
  for (const s of await Promise.all(readers)) {
    t.is(s.errors, 0, s.lastError);
    t.is(s.stalls, 0);
    t.true(s.segments >= 5, `a reader got ${s.segments} segments`);
  }
});
