/**
 * A stranger posing as a viewer of a relay: what its requests may cost the origin (names outside the
 * live window, floods of missing names, query variants, short-lived objects pushing segments out), what
 * it may claim (to be a ring member, to be many viewers), and what an upstream 4xx becomes. Each case
 * runs a relay against a fake origin that counts what reaches it.
 */
import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import type { StreamInfo } from '../../common/types.ts';
import type { MemoryClusterSource } from '../../relay/memory-cluster-source.ts';
import {
  announce,
  clusterWith,
  FakeUpstream,
  get,
  metric,
  metrics,
  startRelay,
  waitFor,
} from '../relay/helpers.ts';

async function setup(
  t: ExecutionContext,
  stream: Partial<StreamInfo> = {},
  config: Record<string, unknown> = {},
) {
  const origin = await new FakeUpstream().start();
  const cluster = clusterWith(origin.url, stream);
  const { relay, url } = await startRelay(cluster, config);
  t.teardown(() => Promise.all([relay.close(), origin.close()]));
  return { origin, cluster, url };
}

/** Announces segments `from`..`to` of `720p` (as the coordinator does once each is complete). */
function announceRange(cluster: MemoryClusterSource, from: number, to: number): void {
  for (let n = from; n <= to; n++) cluster.addSegment(announce('720p', `${n}.m4s`, Buffer.from(`seg ${n}`)));
}

const code = (g: { body: Buffer }) => JSON.parse(g.body.toString()).error.code as string;

test('segment and part names far outside the announced window are a local 404, no upstream fetch', async (t) => {
  const s = await setup(t);
  announceRange(s.cluster, 100, 110);
  const far = [
    '999999.m4s',
    '5000000000.m4s',
    '115.m4s',
    '0.m4s',
    '50.m4s',
    '999999.0.m4s',
    '111.9999.m4s',
    '112.64.m4s',
  ];
  for (const file of far) {
    const got = await get(`${s.url}/live/demo/720p/${file}`);
    t.is(got.status, 404, file);
    t.is(code(got), 'RC_NOT_FOUND', file);
    t.is(got.headers['x-ringcast-error'], 'RC_NOT_FOUND', file);
  }
  // A rendition the relay never heard of is judged by the stream's others.
  t.is((await get(`${s.url}/live/demo/zzz/999999.m4s`)).status, 404);
  t.is(s.origin.total(), 0, 'nothing reached the origin');
  t.is(metric(await metrics(s.url), 'ringcast_relay_refused_requests_total', 'reason="outside_window"'), 9);
  // Inside the window (announced, just ahead, a part of the next segment, a recent one): upstream.
  for (const file of ['110.m4s', '111.m4s', '113.m4s', '111.2.m4s', '90.m4s']) {
    s.origin.objects.set(`demo/720p/${file}`, Buffer.from(file));
    t.is((await get(`${s.url}/live/demo/720p/${file}`)).status, 200, file);
  }
});

test('the window follows the media playlist the relay filled: segments long gone are refused', async (t) => {
  const s = await setup(t, { lowLatency: true });
  s.origin.objects.set(
    'demo/720p/index.m3u8',
    Buffer.from(
      '#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:200\n#EXTINF:2,\n200.m4s\n#EXTINF:2,\n201.m4s\n' +
        '#EXT-X-PART:DURATION=0.2,URI="202.0.m4s"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="202.1.m4s"\n',
    ),
  );
  t.is((await get(`${s.url}/live/demo/720p/index.m3u8`)).status, 200);
  for (const file of ['150.m4s', '196.m4s', '206.m4s', '1000.0.m4s']) {
    t.is((await get(`${s.url}/live/demo/720p/${file}`)).status, 404, file);
  }
  t.is(s.origin.total(), 1, 'only the playlist was fetched');
  s.origin.objects.set('demo/720p/202.1.m4s', Buffer.from('part'));
  t.is((await get(`${s.url}/live/demo/720p/202.1.m4s`)).status, 200);
  // A blocking reload far past the live edge is the 400 the origin would give (RFC 8216bis 6.2.5.2).
  const ahead = await get(`${s.url}/live/demo/720p/index.m3u8?_HLS_msn=900`);
  t.is(ahead.status, 400);
  t.is(code(ahead), 'RC_BAD_REQUEST');
  t.is(s.origin.total(), 2);
});

test('a flood of one missing name inside the window costs one upstream fetch', async (t) => {
  // 4 s targets: the origin's 404 is kept 1 s.
  const s = await setup(t, { targetDuration: 4 });
  announceRange(s.cluster, 100, 110);
  const got = await Promise.all(Array.from({ length: 50 }, () => get(`${s.url}/live/demo/720p/105.m4s`)));
  for (const g of got) t.is(g.status, 404);
  const again = await Promise.all(Array.from({ length: 50 }, () => get(`${s.url}/live/demo/720p/105.m4s`)));
  for (const g of again) t.is(g.status, 404);
  // 100 requests, half after the first answer came back: one fetch (two if the kept 404 expired).
  t.true(s.origin.count('demo/720p/105.m4s') <= 2, `${s.origin.count('demo/720p/105.m4s')} fetches`);
});

test('LL-HLS parameters key by value on LL streams only; unknown _HLS_ parameters are dropped', async (t) => {
  const ll = await setup(t, { lowLatency: true });
  ll.origin.objects.set('demo/720p/index.m3u8', Buffer.from('#EXTM3U\n'));
  for (const q of ['_HLS_msn=7', '_HLS_msn=07', '_HLS_msn=0007&_HLS_foo=1', '_HLS_bar=x&_HLS_msn=7'])
    t.is((await get(`${ll.url}/live/demo/720p/index.m3u8?${q}`)).status, 200, q);
  t.is(ll.origin.count('demo/720p/index.m3u8'), 1, 'one key for every spelling of msn 7');
  const plain = await setup(t);
  plain.origin.objects.set('demo/720p/index.m3u8', Buffer.from('#EXTM3U\n'));
  for (const q of ['', '_HLS_msn=1', '_HLS_msn=2&_HLS_part=3', '_HLS_skip=YES', '_HLS_msn=3'])
    t.is((await get(`${plain.url}/live/demo/720p/index.m3u8?${q}`)).status, 200, q);
  t.is(plain.origin.count('demo/720p/index.m3u8'), 1, 'a plain stream has one playlist, whatever the query');
});

test('an upstream 400 (a blocking reload too far ahead) is a 400 from the relay, not cached; 403 and 410 too', async (t) => {
  const s = await setup(t, { lowLatency: true });
  s.origin.objects.set('demo/720p/index.m3u8', Buffer.from('#EXTM3U\n'));
  s.origin.behaviour.set('demo/720p/index.m3u8', '400');
  const q = '?_HLS_msn=9';
  const got = await get(`${s.url}/live/demo/720p/index.m3u8${q}`);
  t.is(got.status, 400);
  t.is(code(got), 'RC_BAD_REQUEST');
  t.is(got.headers['x-ringcast-error'], 'RC_BAD_REQUEST');
  s.origin.behaviour.set('demo/720p/index.m3u8', 'ok');
  t.is((await get(`${s.url}/live/demo/720p/index.m3u8${q}`)).status, 200, 'the 400 was not kept');
  t.is(s.origin.count('demo/720p/index.m3u8'), 2);
  // A code that does not fit the status becomes the generic code of that status.
  for (const [status, expected] of [
    ['403', 'RC_UPSTREAM_FORBIDDEN'],
    ['410', 'RC_UPSTREAM_GONE'],
  ] as const) {
    const file = `demo/720p/init-${status}.mp4`;
    s.origin.objects.set(file, Buffer.from('x'));
    s.origin.behaviour.set(file, status);
    const g = await get(`${s.url}/live/${file}`);
    t.is(g.status, Number(status));
    t.is(code(g), expected);
  }
  const m = await metrics(s.url);
  t.is(metric(m, 'ringcast_relay_origin_links_down'), 0, 'a 4xx is an answer: the link is fine');
});

test('a viewer sending X-Ringcast-Hop is a viewer: counted, and the forgery counted once per request', async (t) => {
  const s = await setup(t);
  s.origin.objects.set('demo/720p/1.m4s', Buffer.from('one'));
  for (const value of ['1', 'yes', 'x'.repeat(43)]) {
    const g = await get(`${s.url}/live/demo/720p/1.m4s?session=forger`, { 'x-ringcast-hop': value });
    t.is(g.status, 200);
  }
  const m = await metrics(s.url);
  t.is(metric(m, 'ringcast_relay_active_viewers', 'stream="demo"'), 1, 'counted as a viewer');
  t.is(metric(m, 'ringcast_relay_refused_requests_total', 'reason="forged_hop"'), 3);
});

test('one client address counts as at most 8 viewers; long session strings are cut', async (t) => {
  const s = await setup(t);
  s.origin.objects.set('demo/720p/index.m3u8', Buffer.from('#EXTM3U\n'));
  for (let i = 0; i < 100; i++) await get(`${s.url}/live/demo/720p/index.m3u8?session=s${i}`);
  let m = await metrics(s.url);
  t.is(metric(m, 'ringcast_relay_active_viewers', 'stream="demo"'), 8);
  const other = await setup(t);
  other.origin.objects.set('demo/720p/index.m3u8', Buffer.from('#EXTM3U\n'));
  // Agents that differ only after their first 64 characters are one session.
  const long = 'A'.repeat(5000);
  for (let i = 0; i < 5; i++)
    await get(`${other.url}/live/demo/720p/index.m3u8`, { 'user-agent': `${long}${i}` });
  m = await metrics(other.url);
  t.is(metric(m, 'ringcast_relay_active_viewers', 'stream="demo"'), 1);
});

test('short-lived objects (blocking reloads, missing names) never push live segments out of the cache', async (t) => {
  const MiB = 1024 * 1024;
  const s = await setup(t, { lowLatency: true }, { cacheBytes: MiB, playlistMaxAgeMs: 5000 });
  announceRange(s.cluster, 1, 3);
  const segs = [1, 2, 3].map((n) => {
    const body = randomBytes(200_000);
    s.origin.objects.set(`demo/720p/${n}.m4s`, body);
    return body;
  });
  for (const n of [1, 2, 3]) t.is((await get(`${s.url}/live/demo/720p/${n}.m4s`)).status, 200);
  // A flood of distinct blocking-reload keys, each a 20 KB playlist: 2 MB of short-lived objects.
  s.origin.objects.set('demo/720p/index.m3u8', Buffer.alloc(20_000, 0x23));
  for (let i = 0; i < 100; i++) {
    const g = await get(`${s.url}/live/demo/720p/index.m3u8?_HLS_msn=${i % 4}&_HLS_part=${i}`);
    t.is(g.status, 200);
  }
  for (const n of [1, 2, 3]) {
    const g = await get(`${s.url}/live/demo/720p/${n}.m4s`);
    t.is(g.headers['x-ringcast-cache'], 'HIT', `segment ${n} still cached`);
    t.deepEqual(g.body, segs[n - 1]);
    t.is(s.origin.count(`demo/720p/${n}.m4s`), 1);
  }
  const health = JSON.parse((await get(`${s.url}/healthz`)).body.toString());
  t.true(health.cacheBytes <= MiB);
});

test('expired playlists leave the cache within about a second, read again or not', async (t) => {
  const s = await setup(t, {}, { playlistMaxAgeMs: 100 });
  s.origin.objects.set('demo/720p/index.m3u8', Buffer.alloc(50_000, 0x23));
  await get(`${s.url}/live/demo/720p/index.m3u8`);
  const bytes = async () => JSON.parse((await get(`${s.url}/healthz`)).body.toString()).cacheBytes as number;
  t.true((await bytes()) >= 50_000);
  await waitFor(async () => (await bytes()) === 0, 5000, 'the expired playlist to leave');
  t.pass();
});

test('a stream with no known window yet: the first segment fills go through, a guessing flood does not', async (t) => {
  const s = await setup(t);
  let served = 0;
  let refused = 0;
  const t0 = Date.now();
  for (let i = 0; i < 200; i++) {
    const g = await get(`${s.url}/live/demo/720p/${1000 + i * 7}.m4s`);
    if (g.status === 404) served++;
    else if (g.status === 503 && code(g) === 'RC_WINDOW_UNKNOWN') refused++;
  }
  const seconds = Math.ceil((Date.now() - t0) / 1000);
  t.is(served + refused, 200);
  t.true(served >= 32, 'the first fills of a cold stream go upstream');
  t.true(s.origin.total() <= 32 * (seconds + 1), `${s.origin.total()} fetches in ${seconds} s`);
  // Once a playlist tells the window, names inside it are filled again.
  s.origin.objects.set('demo/720p/index.m3u8', Buffer.from('#EXTM3U\n#EXTINF:2,\n5000.m4s\n'));
  t.is((await get(`${s.url}/live/demo/720p/index.m3u8`)).status, 200);
  s.origin.objects.set('demo/720p/5001.m4s', Buffer.from('x'));
  t.is((await get(`${s.url}/live/demo/720p/5001.m4s`)).status, 200);
});
