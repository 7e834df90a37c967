import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import type { StreamInfo } from '../../common/types.ts';
import { clusterWith, FakeUpstream, get, metrics, startRelay, waitFor } from './helpers.ts';

async function setup(t: ExecutionContext, stream: Partial<StreamInfo> = {}) {
  const origin = await new FakeUpstream().start();
  const { relay, url, id } = await startRelay(clusterWith(origin.url, stream));
  t.teardown(() => Promise.all([relay.close(), origin.close()]));
  return { origin, url, id };
}

const BAD_PATHS = [
  '/live/demo/../720p/1.m4s',
  '/live/demo/720p/../../x.m4s',
  '/live/%2e%2e/720p/1.m4s',
  '/live/demo/%2e%2e/1.m4s',
  '/live/demo/720p%2F1.m4s',
  '/live/demo/720p/1%2F2.m4s',
  '/live/demo/720p/1.exe',
  '/live/demo/720p/passwd',
  `/live/demo/720p/${'a'.repeat(200)}.m4s`,
  `/live/${'s'.repeat(200)}/720p/1.m4s`,
  '/live/demo/720p/.hidden.m4s',
  '/live/demo/720p/%ZZ.m4s',
  '/live/demo/720p/x/1.m4s',
];

test('bad paths are 400 RC_BAD_PATH before any upstream is touched', async (t) => {
  const s = await setup(t);
  for (const path of BAD_PATHS) {
    const got = await get(s.url, {}, { rawPath: path });
    t.is(got.status, 400, path);
    t.is(JSON.parse(got.body.toString()).error.code, 'RC_BAD_PATH', path);
    t.is(got.headers['x-ringcast-relay'], s.id);
    t.is(got.headers['access-control-allow-origin'], '*');
  }
  t.is(s.origin.total(), 0);
});

test('unknown stream is 404 RC_STREAM_NOT_FOUND without an upstream request', async (t) => {
  const s = await setup(t);
  const got = await get(`${s.url}/live/other/720p/1.m4s`);
  t.is(got.status, 404);
  t.is(JSON.parse(got.body.toString()).error.code, 'RC_STREAM_NOT_FOUND');
  t.is(s.origin.total(), 0);
});

test('segment headers: relay, cache, CORS, immutable, ETag and 304', async (t) => {
  const s = await setup(t);
  const body = randomBytes(10_000);
  s.origin.objects.set('demo/720p/5.m4s', body);
  const miss = await get(`${s.url}/live/demo/720p/5.m4s`);
  t.is(miss.headers['x-ringcast-relay'], s.id);
  t.is(miss.headers['x-ringcast-cache'], 'MISS');
  t.is(miss.headers['access-control-allow-origin'], '*');
  t.regex(String(miss.headers['access-control-expose-headers']), /X-Ringcast-Relay.*X-Ringcast-Cache/);
  t.is(miss.headers['cache-control'], 'public, max-age=31536000, immutable');
  t.is(miss.headers['content-length'], String(body.length));
  t.is(miss.headers['content-type'], 'video/iso.segment');
  const hit = await get(`${s.url}/live/demo/720p/5.m4s`);
  t.is(hit.headers['x-ringcast-cache'], 'HIT');
  const etag = String(hit.headers.etag);
  t.regex(etag, /^"[0-9a-f]{32}"$/);
  const notModified = await get(`${s.url}/live/demo/720p/5.m4s`, { 'if-none-match': etag });
  t.is(notModified.status, 304);
  t.is(notModified.body.length, 0);
  t.is(notModified.headers.etag, etag);
  const changed = await get(`${s.url}/live/demo/720p/5.m4s`, { 'if-none-match': '"other"' });
  t.is(changed.status, 200);
  t.is(s.origin.count('demo/720p/5.m4s'), 1);
});

test('Range requests get 206 with the right bytes; HEAD has headers only', async (t) => {
  const s = await setup(t);
  const body = randomBytes(1000);
  s.origin.objects.set('demo/720p/init-abc.mp4', body);
  // The first request is a miss with a Range: it waits for the whole object, then slices it.
  const first = await get(`${s.url}/live/demo/720p/init-abc.mp4`, { range: 'bytes=10-19' });
  t.is(first.status, 206);
  t.is(first.headers['content-range'], 'bytes 10-19/1000');
  t.true(first.body.equals(body.subarray(10, 20)));
  const suffix = await get(`${s.url}/live/demo/720p/init-abc.mp4`, { range: 'bytes=-100' });
  t.true(suffix.body.equals(body.subarray(900)));
  const open = await get(`${s.url}/live/demo/720p/init-abc.mp4`, { range: 'bytes=990-' });
  t.true(open.body.equals(body.subarray(990)));
  const beyond = await get(`${s.url}/live/demo/720p/init-abc.mp4`, { range: 'bytes=5000-' });
  t.is(beyond.status, 416);
  t.is(beyond.headers['content-range'], 'bytes */1000');
  const head = await get(`${s.url}/live/demo/720p/init-abc.mp4`, {}, { method: 'HEAD' });
  t.is(head.status, 200);
  t.is(head.headers['content-length'], '1000');
  t.is(head.headers['content-type'], 'video/mp4');
  t.is(head.body.length, 0);
  t.is(s.origin.count('demo/720p/init-abc.mp4'), 1);
});

test('OPTIONS preflight, 405, healthz and metrics', async (t) => {
  const s = await setup(t);
  const pre = await get(`${s.url}/live/demo/720p/1.m4s`, { origin: 'http://x' }, { method: 'OPTIONS' });
  t.is(pre.status, 204);
  t.is(pre.headers['access-control-allow-origin'], '*');
  t.regex(String(pre.headers['access-control-allow-methods']), /GET/);
  const post = await get(`${s.url}/live/demo/720p/1.m4s`, {}, { method: 'POST' });
  t.is(post.status, 405);
  const health = JSON.parse((await get(`${s.url}/healthz`)).body.toString());
  t.like(health, { ok: true, id: s.id, state: 'running' });
  const m = await metrics(s.url);
  for (const name of [
    'ringcast_relay_requests_total',
    'ringcast_relay_upstream_fetches_total',
    'ringcast_relay_bytes_served_total',
    'ringcast_relay_cache_bytes',
    'ringcast_relay_cache_entries',
    'ringcast_relay_active_viewers',
    'ringcast_relay_verification_failures_total',
    'ringcast_relay_upstream_errors_total',
  ]) {
    t.true(m.includes(`# TYPE ${name} `), name);
  }
  t.is((await get(`${s.url}/nope`)).status, 404);
});

test('active viewers count distinct sessions per stream', async (t) => {
  const s = await setup(t);
  s.origin.objects.set('demo/720p/index.m3u8', Buffer.from('#EXTM3U\n'));
  for (const session of ['a', 'b', 'c', 'a'])
    await get(`${s.url}/live/demo/720p/index.m3u8?session=${session}`);
  t.regex(await metrics(s.url), /ringcast_relay_active_viewers\{stream="demo"\} 3/);
});

test('LL-HLS blocking parameters are forwarded in a fixed order and keyed separately', async (t) => {
  const s = await setup(t, { lowLatency: true });
  s.origin.objects.set('demo/720p/index.m3u8', Buffer.from('#EXTM3U\n'));
  await get(`${s.url}/live/demo/720p/index.m3u8?_HLS_part=1&x=y&_HLS_msn=7`);
  await get(`${s.url}/live/demo/720p/index.m3u8?_HLS_msn=7&_HLS_part=1`);
  t.is(s.origin.count('demo/720p/index.m3u8'), 1);
  const bad = await get(`${s.url}/live/demo/720p/index.m3u8?_HLS_msn=abc`);
  t.is(bad.status, 400);
});

test('drain keeps serving for drainMs; close then refuses', async (t) => {
  const origin = await new FakeUpstream().start();
  const { relay, url } = await startRelay(clusterWith(origin.url), { drainMs: 300 });
  t.teardown(() => Promise.all([relay.close(), origin.close()]));
  origin.objects.set('demo/720p/1.m4s', Buffer.from('x'));
  const draining = relay.drain();
  t.like(JSON.parse((await get(`${url}/healthz`)).body.toString()), { state: 'draining' });
  t.is((await get(`${url}/live/demo/720p/1.m4s`)).status, 200);
  await draining;
  await relay.close();
  await relay.close();
  await t.throwsAsync(get(`${url}/healthz`));
});

test('identical LL-HLS blocking reloads share one upstream request held past the first-byte timeout', async (t) => {
  const origin = await new FakeUpstream().start();
  const { relay, url } = await startRelay(clusterWith(origin.url, { lowLatency: true }), {
    firstByteTimeoutMs: 200,
    blockingTimeoutMs: 10_000,
  });
  t.teardown(() => Promise.all([relay.close(), origin.close()]));
  origin.objects.set('demo/720p/index.m3u8', Buffer.from('#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:5\n'));
  origin.behaviour.set('demo/720p/index.m3u8', 'held');
  const q = '?_HLS_msn=6&_HLS_part=0';
  const all = Array.from({ length: 10 }, () => get(`${url}/live/demo/720p/index.m3u8${q}`));
  const other = get(`${url}/live/demo/720p/index.m3u8?_HLS_msn=6&_HLS_part=1`);
  await waitFor(() => origin.count('demo/720p/index.m3u8') === 2, 5000, 'two upstream requests');
  // Let the plain first-byte timeout pass: a blocking request must still be waiting.
  const t0 = Date.now();
  await waitFor(() => Date.now() - t0 > 400, 2000, 'first-byte timeout to pass');
  origin.release();
  for (const g of await Promise.all([...all, other])) t.is(g.status, 200);
  t.is(origin.count('demo/720p/index.m3u8'), 2);
});

test('only-if-cached answers 504 RC_NOT_CACHED without filling, then HIT once the object is cached', async (t) => {
  const s = await setup(t);
  const body = randomBytes(5_000);
  s.origin.objects.set('demo/720p/7.m4s', body);
  const probe = await get(`${s.url}/live/demo/720p/7.m4s`, { 'cache-control': 'only-if-cached' });
  t.is(probe.status, 504);
  t.is(JSON.parse(probe.body.toString()).error.code, 'RC_NOT_CACHED');
  t.is(s.origin.count('demo/720p/7.m4s'), 0);
  await get(`${s.url}/live/demo/720p/7.m4s`);
  const cached = await get(`${s.url}/live/demo/720p/7.m4s`, { 'cache-control': 'only-if-cached' });
  t.is(cached.status, 200);
  t.is(cached.headers['x-ringcast-cache'], 'HIT');
  t.deepEqual(cached.body, body);
  t.is(s.origin.count('demo/720p/7.m4s'), 1);
});
