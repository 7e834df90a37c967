import { createServer, request } from 'node:http';
import test from 'ava';
import HLS from 'hls-parser';
import { closeServer, listen } from '../../common/http.ts';
import { silentLogger } from '../../common/log.ts';
import { Origin } from '../../origin/app.ts';
import { loadOriginConfig } from '../../origin/config.ts';
import { clusterWith, FakeUpstream, get, startRelay, waitFor } from './helpers.ts';

// LL-HLS through a relay: blocking playlist reloads and held parts merged into one upstream request per
// normalised key, answered to every waiting viewer at once, playlists cached briefly with Age; and the
// time a viewer's relay adds to a part.

type Media = InstanceType<typeof HLS.types.MediaPlaylist>;

/** The stream is LL-HLS: only then do `_HLS_` parameters make a cache key of their own. */
const LL = { lowLatency: true };

test('50 viewers blocking on the same reload (other parameters differing) make one upstream request; Age is set', async (t) => {
  const origin = await new FakeUpstream().start();
  const { relay, url } = await startRelay(clusterWith(origin.url, LL));
  t.teardown(() => Promise.all([relay.close(), origin.close()]));
  const playlist = Buffer.from('#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:5\n');
  origin.objects.set('demo/180p/index.m3u8', playlist);
  origin.behaviour.set('demo/180p/index.m3u8', 'held');
  origin.objects.set('demo/180p/6.2.m4s', Buffer.alloc(30_000, 7));
  origin.behaviour.set('demo/180p/6.2.m4s', 'held');
  const viewers = Array.from({ length: 50 }, (_, i) =>
    get(`${url}/live/demo/180p/index.m3u8?session=v${i}&_HLS_part=2&_HLS_msn=6${i % 2 ? '&x=1' : ''}`),
  );
  const parts = Array.from({ length: 50 }, (_, i) => get(`${url}/live/demo/180p/6.2.m4s?session=v${i}`));
  await waitFor(
    () => origin.count('demo/180p/index.m3u8') === 1 && origin.count('demo/180p/6.2.m4s') === 1,
    5000,
    'the upstream requests',
  );
  origin.release();
  const answers = await Promise.all(viewers);
  const partAnswers = await Promise.all(parts);
  t.is(origin.count('demo/180p/index.m3u8'), 1, 'one upstream blocking reload for 50 viewers');
  t.is(origin.count('demo/180p/6.2.m4s'), 1, 'one upstream part request for 50 viewers');
  for (const a of answers) {
    t.is(a.status, 200);
    t.deepEqual(a.body, playlist);
    t.is(a.headers.age, '0');
  }
  for (const a of partAnswers) t.is(a.body.length, 30_000);
  // Cached briefly: the same blocking reload right after is a HIT with Age, no new upstream request.
  const again = await get(`${url}/live/demo/180p/index.m3u8?_HLS_msn=6&_HLS_part=2`);
  t.is(again.headers['x-ringcast-cache'], 'HIT');
  t.is(again.headers.age, '0');
  t.is(origin.count('demo/180p/index.m3u8'), 1);
  // A different key (skip) is a different upstream request.
  await get(`${url}/live/demo/180p/index.m3u8?_HLS_msn=6&_HLS_part=2&_HLS_skip=YES`);
  t.is(origin.count('demo/180p/index.m3u8'), 2);
});

test('an origin 503 on a blocking reload (held too long) reaches every waiting viewer as 503, once', async (t) => {
  let asked = 0;
  const server = createServer((req, res) => {
    asked++;
    setTimeout(() => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"RC_BLOCKING_TIMEOUT"}}');
    }, 100);
    req.resume();
  });
  const originUrl = await listen(server, 0);
  const { relay, url } = await startRelay(clusterWith(originUrl, LL));
  t.teardown(async () => {
    await relay.close();
    server.closeAllConnections();
    await closeServer(server);
  });
  const answers = await Promise.all(
    Array.from({ length: 10 }, () => get(`${url}/live/demo/180p/index.m3u8?_HLS_msn=9`)),
  );
  for (const a of answers) {
    t.is(a.status, 503);
    t.is(JSON.parse(a.body.toString()).error.code, 'RC_BLOCKING_TIMEOUT');
  }
  t.is(asked, 1);
});

/** A counting HTTP proxy in front of the origin: what the relay asks upstream. */
async function countingProxy(target: string) {
  const seen: string[] = [];
  const u = new URL(target);
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    const up = request(
      { hostname: u.hostname, port: u.port, path: req.url, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const url = await listen(server, 0);
  const close = () => {
    server.closeAllConnections();
    return closeServer(server);
  };
  return { url, seen, close };
}

/** Time to the first body byte and the whole body of a GET. */
function timedGet(url: string): Promise<{ status: number; ttfb: number; body: Buffer }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let ttfb = 0;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        if (chunks.length === 0) ttfb = performance.now() - t0;
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ttfb, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

test.serial(
  'a real LL-HLS origin behind a relay: 50 blocked viewers, one upstream request; part time added by the relay',
  async (t) => {
    const config = loadOriginConfig(
      [],
      {},
      {
        port: 0,
        rtmpPort: 0,
        ladder: '180p:320x180:300k:64k,90p:160x90:150k:48k',
        fps: 30,
        testsrcSize: '320x180',
        source: 'testsrc',
        streamKey: `llrelay${process.pid}`,
        lowLatency: true,
      },
    );
    const origin = new Origin(config, { log: silentLogger() });
    const { url: originUrl } = await origin.start();
    const proxy = await countingProxy(originUrl);
    const { relay, url } = await startRelay(clusterWith(proxy.url, LL));
    t.teardown(async () => {
      await relay.close();
      await proxy.close();
      await origin.close();
    });
    const direct = `${originUrl}/live/demo/180p/index.m3u8`;
    await waitFor(async () => (await fetch(direct)).status === 200, 60_000, 'the LL playlist');

    // 50 viewers block on the next part of the live edge.
    const pl = HLS.parse(await (await fetch(direct)).text()) as Media;
    const edge = pl.segments.at(-1)!;
    const next = `_HLS_msn=${edge.mediaSequenceNumber}&_HLS_part=${edge.parts.filter((p) => !p.hint).length}`;
    const before = proxy.seen.length;
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => get(`${url}/live/demo/180p/index.m3u8?${next}&session=s${i}`)),
    );
    const upstream = proxy.seen.slice(before);
    t.deepEqual(upstream, [`/live/demo/180p/index.m3u8?${next}`], 'one upstream request for 50 viewers');
    const bodies = new Set(answers.map((a) => a.body.toString()));
    t.is(bodies.size, 1, 'every viewer got the same answer');
    for (const a of answers) t.is(a.status, 200);

    // The relay's added time on a part: the hinted part, asked of the origin and of the relay at once;
    // both are held until the part is complete, so the difference in first-byte time is the relay's.
    const added: number[] = [];
    for (let i = 0; i < 15; i++) {
      const text = await (await fetch(direct)).text();
      const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(text)![1]!;
      const [viaOrigin, viaRelay] = await Promise.all([
        timedGet(`${originUrl}/live/demo/180p/${hint}`),
        timedGet(`${url}/live/demo/180p/${hint}`),
      ]);
      t.is(
        viaRelay.status,
        200,
        `${hint}: ${viaRelay.body.toString().slice(0, 300)} (origin ${viaOrigin.status})`,
      );
      t.deepEqual(viaRelay.body, viaOrigin.body);
      added.push(viaRelay.ttfb - viaOrigin.ttfb);
    }
    added.sort((a, b) => a - b);
    const p50 = added[Math.floor(added.length / 2)]!;
    const p90 = added[Math.floor(added.length * 0.9)]!;
    t.log(
      `relay-added part time to first byte: p50 ${p50.toFixed(1)} ms, p90 ${p90.toFixed(1)} ms (15 hinted parts)`,
    );
    t.true(p50 < 15, `p50 ${p50} ms`);
  },
);
