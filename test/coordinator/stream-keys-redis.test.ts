import test from 'ava';
import { Redis } from 'ioredis';
import { silentLogger } from '../../common/log.ts';
import { RedisStore } from '../../coordinator/redis-store.ts';
import { keyDigest } from '../../coordinator/stream-registry.ts';
import { waitFor } from '../../harness/wait.ts';
import { call, coordinatorsOnRedis, startCoordinator } from './helpers.ts';

const auth = (base: string, key: string) => call(`${base}/api/v1/publish-auth`, { body: { key } });
const addStream = (base: string, id: string) => call(`${base}/api/v1/streams`, { body: { id } });
const health = async (base: string) => (await call(`${base}/healthz`)).body.status;

/** Every key and value in Redis as one string, to check what is (not) stored. */
async function dumpRedis(url: string): Promise<string> {
  const r = new Redis(url);
  try {
    const out: string[] = [];
    for (const k of await r.keys('*')) {
      const type = await r.type(k);
      if (type === 'hash') out.push(k, JSON.stringify(await r.hgetall(k)));
      else if (type === 'string') out.push(k, String(await r.get(k)));
    }
    return out.join('\n');
  } finally {
    r.disconnect();
  }
}

test.serial('two coordinators on one Redis share registrations; a rotation is seen at once', async (t) => {
  const {
    redis,
    coordinators: [a, b],
  } = await coordinatorsOnRedis(t, 2);

  const key1: string = (await addStream(a.url, 'demo')).body.key;
  t.deepEqual((await auth(b.url, key1)).body, { streamId: 'demo' });
  t.is((await addStream(b.url, 'demo')).body.error.code, 'RC_STREAM_EXISTS');
  const key2: string = (await call(`${b.url}/api/v1/streams/demo/key`, { method: 'POST' })).body.key;
  t.is((await auth(a.url, key1)).status, 403, 'the old key is refused by the other coordinator at once');
  t.deepEqual((await auth(a.url, key2)).body, { streamId: 'demo' });
  t.is((await call(`${a.url}/api/v1/streams/demo/key`, { method: 'DELETE' })).status, 200);
  t.is((await auth(b.url, key2)).status, 403);
  t.deepEqual(
    (await call(`${b.url}/api/v1/streams`)).body.streams.map((s: { keyState: string }) => s.keyState),
    ['revoked'],
  );

  const stored = await dumpRedis(redis.url);
  t.true(stored.includes('ringcast:stream-keys'));
  for (const key of [key1, key2]) t.false(stored.includes(key), 'Redis never holds a key');
});

test.serial('a registration survives a Redis restart; keys keep working meanwhile', async (t) => {
  const {
    redis,
    coordinators: [a],
  } = await coordinatorsOnRedis(t, 1);
  const key: string = (await addStream(a.url, 'demo')).body.key;
  const oldKey: string = (await addStream(a.url, 'other')).body.key;
  const otherKey: string = (await call(`${a.url}/api/v1/streams/other/key`, { method: 'POST' })).body.key;
  await addStream(a.url, 'removed');
  t.is((await call(`${a.url}/api/v1/streams/removed`, { method: 'DELETE' })).status, 200);

  await redis.stop();
  await waitFor(async () => (await health(a.url)) === 'degraded', { timeoutMs: 5000, what: 'degraded' });
  // The origin's publishers are not turned away because Redis is briefly gone.
  t.deepEqual((await auth(a.url, key)).body, { streamId: 'demo' });
  t.is((await auth(a.url, oldKey)).status, 403);
  t.is((await call(`${a.url}/api/v1/streams`)).body.streams.length, 2);
  const write = await addStream(a.url, 'late');
  t.is(write.status, 503);
  t.is(write.body.error.code, 'RC_STORE_UNAVAILABLE');

  // Redis comes back empty (no persistence in the test server).
  await redis.start();
  await waitFor(async () => (await health(a.url)) === 'ok', { timeoutMs: 10_000, what: 'healthy again' });
  const b = await startCoordinator({ redisUrl: redis.url });
  t.teardown(() => b.close());
  t.deepEqual((await auth(b.url, key)).body, { streamId: 'demo' });
  t.deepEqual((await auth(b.url, otherKey)).body, { streamId: 'other' });
  t.is((await auth(b.url, oldKey)).status, 403, 'a rotated-out key does not come back');
  t.deepEqual(
    (await call(`${b.url}/api/v1/streams`)).body.streams.map((s: { id: string }) => s.id),
    ['demo', 'other'],
  );
  t.is((await addStream(b.url, 'demo')).status, 409);
  t.false((await dumpRedis(redis.url)).includes(key));
});

test.serial('a coordinator with an older copy does not write it back over newer registrations', async (t) => {
  const {
    redis,
    coordinators: [a],
  } = await coordinatorsOnRedis(t, 1);
  const key1: string = (await addStream(a.url, 'demo')).body.key;
  const key2: string = (await call(`${a.url}/api/v1/streams/demo/key`, { method: 'POST' })).body.key;

  // A store whose coordinator last saw version 1 (key1) connects, as after a network split.
  const stale = new RedisStore({ url: redis.url, log: silentLogger() });
  const now = Date.now();
  stale.setRestoreSource(() => ({
    relays: [],
    streams: [],
    version: 0,
    registrations: {
      version: 1,
      registrations: [{ id: 'demo', createdAtMs: now, keyDigest: keyDigest(key1), keyChangedAtMs: now }],
    },
  }));
  await stale.start();
  t.teardown(() => stale.close());
  await waitFor(() => stale.available, { timeoutMs: 5000, what: 'stale store up' });
  t.is((await auth(a.url, key1)).status, 403);
  t.deepEqual((await auth(a.url, key2)).body, { streamId: 'demo' });
});
