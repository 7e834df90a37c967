import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { announce, clusterWith, FakeUpstream, get, metric, metrics, startRelay, waitFor } from './helpers.ts';

/** An origin and a relay on a fake cluster, closed when the test ends (pass or fail). */
async function setup(t: ExecutionContext, overrides = {}) {
  const origin = await new FakeUpstream().start();
  const cluster = clusterWith(origin.url);
  const { relay, url, id } = await startRelay(cluster, overrides);
  t.teardown(() => Promise.all([relay.close(), origin.close()]));
  return { origin, cluster, relay, url, id };
}

test('100 concurrent requests for one cold segment make exactly one upstream request', async (t) => {
  // The upstream body is held on purpose: the idle timeout must not fire meanwhile.
  const s = await setup(t, { idleTimeoutMs: 20_000 });
  const body = randomBytes(300_000);
  s.origin.objects.set('demo/720p/1.m4s', body);
  s.origin.behaviour.set('demo/720p/1.m4s', 'slow');
  const all = Array.from({ length: 100 }, () => get(`${s.url}/live/demo/720p/1.m4s`));
  // Hold the upstream body until every viewer request reached the relay, so all of them coalesce.
  await waitFor(async () => {
    const m = await metrics(s.url);
    const seen = ['miss', 'coalesced', 'hit'].reduce(
      (n, c) => n + metric(m, 'ringcast_relay_requests_total', `cache="${c}"`),
      0,
    );
    return seen >= 100;
  });
  s.origin.release();
  const got = await Promise.all(all);
  t.is(s.origin.count('demo/720p/1.m4s'), 1);
  for (const g of got) {
    t.is(g.status, 200);
    t.true(g.body.equals(body));
  }
  const caches = got.map((g) => g.headers['x-ringcast-cache']);
  t.is(caches.filter((c) => c === 'MISS').length, 1);
  t.is(caches.filter((c) => c === 'COALESCED').length, 99);
  const again = await get(`${s.url}/live/demo/720p/1.m4s`);
  t.is(again.headers['x-ringcast-cache'], 'HIT');
  t.is(s.origin.count('demo/720p/1.m4s'), 1);
});

test('cut-through: first bytes of a slow upstream body reach the viewer before upstream ends', async (t) => {
  const s = await setup(t, { idleTimeoutMs: 20_000 });
  const body = randomBytes(200_000);
  s.origin.objects.set('demo/720p/2.m4s', body);
  s.origin.behaviour.set('demo/720p/2.m4s', 'slow');
  let firstBytes = false;
  const pending = get(`${s.url}/live/demo/720p/2.m4s`, {}, { onFirstBytes: () => (firstBytes = true) });
  await waitFor(() => firstBytes, 5000, 'first bytes while upstream is held');
  // A late joiner gets the bytes so far, then the rest.
  const late = get(`${s.url}/live/demo/720p/2.m4s`);
  await waitFor(
    async () => metric(await metrics(s.url), 'ringcast_relay_requests_total', 'cache="coalesced"') === 1,
  );
  s.origin.release();
  const [a, b] = await Promise.all([pending, late]);
  t.true(a.body.equals(body));
  t.true(b.body.equals(body));
  t.is(b.headers['x-ringcast-cache'], 'COALESCED');
  t.is(s.origin.count('demo/720p/2.m4s'), 1);
});

for (const mode of ['die', '500', 'hang'] as const) {
  test(`upstream ${mode}: nothing cached, viewer sees an error, a retry succeeds`, async (t) => {
    // Only the hang case needs a short timeout; 1 s still leaves room for a loaded machine.
    const s = await setup(t, mode === 'hang' ? { firstByteTimeoutMs: 1000, idleTimeoutMs: 1000 } : {});
    const key = `demo/720p/${mode}.m4s`;
    const body = randomBytes(400_000);
    s.origin.objects.set(key, body);
    s.origin.behaviour.set(key, mode);
    const failed = await get(`${s.url}/live/${key}`).then(
      (g) => g,
      (err: Error) => err,
    );
    if (failed instanceof Error) t.pass('connection broken mid-body');
    else {
      t.true(failed.status === 502 || failed.status === 504, `status ${failed.status}`);
      t.regex(JSON.parse(failed.body.toString()).error.code, /^RC_UPSTREAM_(FAILED|TIMEOUT)$/);
    }
    const health = JSON.parse((await get(`${s.url}/healthz`)).body.toString());
    t.is(health.cacheEntries, 0);
    s.origin.behaviour.set(key, 'ok');
    const retry = await get(`${s.url}/live/${key}`);
    t.is(retry.status, 200);
    t.is(retry.headers['x-ringcast-cache'], 'MISS');
    t.true(retry.body.equals(body));
    const m = await metrics(s.url);
    t.true(metric(m, 'ringcast_relay_upstream_fetches_total', 'source="origin",outcome="ok"') === 1);
  });
}

test('a viewer mid-body sees its connection cut when upstream dies', async (t) => {
  const s = await setup(t);
  const key = 'demo/720p/3.m4s';
  s.origin.objects.set(key, randomBytes(2_000_000));
  s.origin.behaviour.set(key, 'die');
  await t.throwsAsync(get(`${s.url}/live/${key}`));
});

test('the byte budget holds while ten times its size streams through', async (t) => {
  const budget = 1024 * 1024;
  const s = await setup(t, { cacheBytes: budget });
  const size = 256 * 1024;
  for (let i = 0; i < 40; i++) s.origin.objects.set(`demo/360p/${i}.m4s`, randomBytes(size));
  // As a player does, the playlist first: it tells the relay the window (40 segments, more than a cold
  // stream's fills per second).
  const list = Array.from({ length: 40 }, (_, i) => `#EXTINF:2,\n${i}.m4s\n`).join('');
  const playlist = Buffer.from(`#EXTM3U\n${list}`);
  s.origin.objects.set('demo/360p/index.m3u8', playlist);
  t.is((await get(`${s.url}/live/demo/360p/index.m3u8`)).status, 200);
  let maxSeen = 0;
  for (let i = 0; i < 40; i += 4) {
    const batch = [0, 1, 2, 3].map((j) => get(`${s.url}/live/demo/360p/${i + j}.m4s`));
    for (const g of await Promise.all(batch)) t.is(g.body.length, size);
    const health = JSON.parse((await get(`${s.url}/healthz`)).body.toString());
    maxSeen = Math.max(maxSeen, health.cacheBytes);
  }
  t.true(maxSeen <= budget, `cache held ${maxSeen} bytes`);
  const m = await metrics(s.url);
  t.true(metric(m, 'ringcast_relay_cache_bytes') <= budget);
  t.true(metric(m, 'ringcast_relay_cache_entries') <= 4);
  t.is(metric(m, 'ringcast_relay_bytes_served_total'), 40 * size + playlist.length);
});

test("the origin's 404 passes through and is kept only briefly (a quarter target duration)", async (t) => {
  const s = await setup(t);
  const missing = await get(`${s.url}/live/demo/720p/99.m4s`);
  t.is(missing.status, 404);
  s.origin.objects.set('demo/720p/99.m4s', Buffer.from('now here'));
  // A flood of the same missing name costs no further fetch while the 404 is kept; once it has expired
  // (500 ms for 2 s targets) the object is filled, once: two origin requests in all.
  const again = await Promise.all(Array.from({ length: 20 }, () => get(`${s.url}/live/demo/720p/99.m4s`)));
  let found = again.at(-1)!;
  await waitFor(
    async () => {
      found = await get(`${s.url}/live/demo/720p/99.m4s`);
      return found.status === 200;
    },
    5000,
    'the object once the 404 expired',
  );
  t.is(found.body.toString(), 'now here');
  t.is(s.origin.count('demo/720p/99.m4s'), 2);
});

test('a kept 404 gives way to the announcement of that segment: the next request is served', async (t) => {
  const s = await setup(t);
  t.is((await get(`${s.url}/live/demo/720p/50.m4s`)).status, 404);
  const body = randomBytes(2000);
  s.origin.objects.set('demo/720p/50.m4s', body);
  s.cluster.addSegment(announce('720p', '50.m4s', body));
  const got = await get(`${s.url}/live/demo/720p/50.m4s`);
  t.is(got.status, 200);
  t.deepEqual(got.body, body);
});

test('playlists are kept only playlistMaxAgeMs', async (t) => {
  const s = await setup(t, { playlistMaxAgeMs: 800 });
  s.origin.objects.set('demo/720p/index.m3u8', Buffer.from('#EXTM3U\n'));
  const a = await get(`${s.url}/live/demo/720p/index.m3u8`);
  const filledAt = Date.now();
  t.is(a.headers['content-type'], 'application/vnd.apple.mpegurl');
  t.regex(String(a.headers['cache-control']), /max-age=[01]\b/);
  const b = await get(`${s.url}/live/demo/720p/index.m3u8`);
  // A HIT unless this machine was so loaded that the playlist already expired.
  t.true(b.headers['x-ringcast-cache'] === 'HIT' || Date.now() - filledAt >= 800);
  s.origin.objects.set('demo/720p/index.m3u8', Buffer.from('#EXTM3U\n#EXT-X-VERSION:7\n'));
  await waitFor(
    async () => (await get(`${s.url}/live/demo/720p/index.m3u8`)).body.toString().includes('VERSION'),
    3000,
    'fresh playlist',
  );
  t.true(s.origin.count('demo/720p/index.m3u8') >= 2);
});

test('a reset on a reused keep-alive socket is retried once on a fresh one', async (t) => {
  const s = await setup(t);
  s.origin.objects.set('demo/720p/10.m4s', Buffer.from('first'));
  s.origin.objects.set('demo/720p/11.m4s', Buffer.from('second'));
  s.origin.behaviour.set('demo/720p/11.m4s', 'reset-reused');
  t.is((await get(`${s.url}/live/demo/720p/10.m4s`)).status, 200);
  const got = await get(`${s.url}/live/demo/720p/11.m4s`);
  t.is(got.status, 200);
  t.is(got.body.toString(), 'second');
  t.is(s.origin.count('demo/720p/11.m4s'), 2);
});

test('close fails waiting fills at once instead of waiting for a hung upstream', async (t) => {
  const s = await setup(t, { firstByteTimeoutMs: 60_000 });
  s.origin.objects.set('demo/720p/12.m4s', Buffer.from('x'));
  s.origin.behaviour.set('demo/720p/12.m4s', 'hang');
  const waiting = get(`${s.url}/live/demo/720p/12.m4s`).then(
    (g) => g.status,
    () => 'error',
  );
  await waitFor(() => s.origin.count('demo/720p/12.m4s') === 1, 5000, 'upstream request');
  const started = Date.now();
  await s.relay.close();
  t.true(Date.now() - started < 3000);
  t.not(await waiting, 200);
});

test('an object over half the cache budget is refused with 502, not held', async (t) => {
  const s = await setup(t, { cacheBytes: 1024 * 1024 });
  s.origin.objects.set('demo/720p/13.m4s', randomBytes(600 * 1024));
  const got = await get(`${s.url}/live/demo/720p/13.m4s`);
  t.is(got.status, 502);
  const health = JSON.parse((await get(`${s.url}/healthz`)).body.toString());
  t.is(health.cacheBytes, 0);
});

test('a peer segment asked for before its announcement waits for the announcement event, then comes from the peer', async (t) => {
  const { origin, cluster, url, id } = await setup(t);
  const peer = await new FakeUpstream().start();
  t.teardown(() => peer.close());
  cluster.setRing({
    version: 1,
    relays: [
      { id: 'peer', url: peer.url, capacity: 1, state: 'active' },
      { id, url, capacity: 1, state: 'active' },
    ],
  });
  const key = Array.from({ length: 1000 }, (_, n) => `demo/720p/${n}.m4s`).find(
    (k) => cluster.ring().owner(k)?.id === 'peer',
  )!;
  const body = randomBytes(3000);
  peer.objects.set(key, body);
  origin.objects.set(key, randomBytes(3000));
  // The relay subscribed to changes at start; a subscription after the request is the fill's wait.
  let waiting = false;
  const onChange = cluster.onChange.bind(cluster);
  cluster.onChange = (listener) => {
    waiting = true;
    return onChange(listener);
  };
  const pending = get(`${url}/live/${key}`);
  await waitFor(() => waiting, 5000, 'the fill waits for the announcement');
  const [rendition, file] = key.split('/').slice(1) as [string, string];
  cluster.addSegment(announce(rendition, file, body));
  const got = await pending;
  t.is(got.status, 200);
  t.true(got.body.equals(body));
  t.is(peer.count(key), 1);
  t.is(origin.count(key), 0);
});
