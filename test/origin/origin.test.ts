import { createHash } from 'node:crypto';
import test from 'ava';
import HLS from 'hls-parser';
import { getText, sumMetric, waitFor } from '../../harness/wait.ts';
import { publisherPool, SECRET, segmentsIn, startOrigin, status } from './origin-kit.ts';
import { type StandInCoordinator, standInCoordinator } from './stand-in-coordinator.ts';

// One RTMP origin through a publisher's life: a wrong key, the right one, bad paths, a drop within the
// grace period, and the end. The tests run in order on the same stream.
const KEY = `key${process.pid}x${Date.now()}`;
const publishers = publisherPool();
const publish = (url: string, seconds?: number) => publishers.publish(url, { seconds });

let coordinator: StandInCoordinator;
let rtmpOrigin: Awaited<ReturnType<typeof startOrigin>>;

test.before(async () => {
  coordinator = await standInCoordinator({ secret: SECRET });
  rtmpOrigin = await startOrigin({
    source: 'rtmp',
    streamKey: KEY,
    endGraceMs: 4000,
    coordinatorUrl: coordinator.url,
  });
});

test.after.always(async () => {
  publishers.killAll();
  await rtmpOrigin?.origin.close();
  coordinator?.server.close();
});

test.serial('a wrong key is refused: the publisher exits non-zero and nothing is published', async (t) => {
  const { url, rtmpUrl } = rtmpOrigin;
  t.regex(rtmpUrl, /^rtmp:\/\/127\.0\.0\.1:\d+\/live$/);
  const run = publish(`${rtmpUrl}/not-the-key`, 4);
  t.not(await run.exited, 0);
  const metrics = await getText(`${url}/metrics`);
  t.is(sumMetric(metrics, 'ringcast_origin_segments_published_total'), 0);
  t.is(sumMetric(metrics, 'ringcast_origin_publish_refused_total'), 1);
  t.is(await status(`${url}/live/demo/master.m3u8`), 404);
  t.is(coordinator.streams.length, 0);
});

/** The accepted publisher and its first media playlist (set by the test below; the next ones read it). */
let accepted: { run: ReturnType<typeof publish>; pl: InstanceType<typeof HLS.types.MediaPlaylist> };

test.serial(
  'the right key is accepted: a master and media playlists with PDT on every segment',
  async (t) => {
    const { url, rtmpUrl } = rtmpOrigin;
    const run = publish(`${rtmpUrl}/${KEY}`);
    const media = await waitFor(
      async () => {
        const text = await getText(`${url}/live/demo/180p/index.m3u8`);
        return segmentsIn(text) >= 3 ? text : undefined;
      },
      { timeoutMs: 60_000, what: '3 segments' },
    );
    t.is(run.child.exitCode, null, `publisher still running: ${run.stderr()}`);

    const master = HLS.parse(await getText(`${url}/live/demo/master.m3u8`)) as InstanceType<
      typeof HLS.types.MasterPlaylist
    >;
    t.deepEqual(
      master.variants.map((v) => v.uri),
      ['180p/index.m3u8', '90p/index.m3u8'],
    );
    t.regex(master.variants[0]!.codecs!, /^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/);
    t.deepEqual(master.variants[0]!.resolution, { width: 320, height: 180 });
    t.true(master.variants[0]!.bandwidth > master.variants[1]!.bandwidth);

    const pl = HLS.parse(media) as InstanceType<typeof HLS.types.MediaPlaylist>;
    t.false(pl.endlist);
    t.true(
      pl.segments.every((s) => s.programDateTime instanceof Date),
      'PDT on every segment',
    );
    t.true(pl.segments.every((s) => s.duration > 0 && s.duration <= pl.targetDuration + 0.5));
    t.regex(pl.segments[0]!.map.uri, /^init-[0-9a-f]{8}\.mp4$/);
    const pdtLag = Date.now() - pl.segments.at(-1)!.programDateTime!.getTime();
    t.true(pdtLag > 0 && pdtLag < 15_000, `last PDT ${pdtLag} ms ago`);
    accepted = { run, pl };
  },
);

test.serial(
  'segments and init are immutable and typed; the stream and each segment are announced',
  async (t) => {
    const { url } = rtmpOrigin;
    const { pl } = accepted;
    // Segment and init: immutable, typed, sized; HEAD has the headers and no body.
    const seg = await fetch(`${url}/live/demo/180p/${pl.segments[0]!.uri}`);
    const bytes = Buffer.from(await seg.arrayBuffer());
    t.is(seg.status, 200);
    t.is(seg.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    t.is(seg.headers.get('content-type'), 'video/iso.segment');
    t.is(Number(seg.headers.get('content-length')), bytes.length);
    t.is(seg.headers.get('access-control-allow-origin'), '*');
    const head = await fetch(`${url}/live/demo/180p/${pl.segments[0]!.map.uri}`, { method: 'HEAD' });
    t.is(head.status, 200);
    t.is(head.headers.get('content-type'), 'video/mp4');

    // Announcements: the stream (with the secret) and each segment with its real size and digest.
    const put = coordinator.streams.find((s) => s.body.state === 'live');
    t.truthy(put);
    t.is(put!.auth, `Bearer ${SECRET}`);
    t.is(put!.body.originUrl, url);
    t.deepEqual(
      put!.body.renditions.map((r) => [r.name, r.width, r.height, r.frameRate]),
      [
        ['180p', 320, 180, 15],
        ['90p', 160, 90, 15],
      ],
    );
    const ann = await waitFor(() =>
      coordinator.segments.find((s) => s.rendition === '180p' && s.file === pl.segments[0]!.uri),
    );
    t.is(ann.size, bytes.length);
    t.is(ann.sha256, createHash('sha256').update(bytes).digest('hex'));
    t.is(ann.programDateTime, pl.segments[0]!.programDateTime!.toISOString());
  },
);

test.serial('a second publisher on the live key is refused; the first keeps going', async (t) => {
  const { url, rtmpUrl } = rtmpOrigin;
  const { run, pl } = accepted;
  const bytes = Buffer.from(
    await (await fetch(`${url}/live/demo/180p/${pl.segments[0]!.uri}`)).arrayBuffer(),
  );
  const before = segmentsIn(await getText(`${url}/live/demo/90p/index.m3u8`));
  const second = publish(`${rtmpUrl}/${KEY}`, 3);
  t.not(await second.exited, 0);
  t.is(run.child.exitCode, null);
  const metrics = await getText(`${url}/metrics`);
  t.true(sumMetric(metrics, 'ringcast_origin_segments_published_total', { rendition: '90p' }) >= before);
  t.true(sumMetric(metrics, 'ringcast_origin_segment_requests_total', { rendition: '180p' }) >= 1);
  // At least the segment, the init section and the playlists this test read (HEADs send no body).
  t.true(sumMetric(metrics, 'ringcast_origin_bytes_served_total', { stream: 'demo' }) > bytes.length);
});

test.serial('bad paths are 400 before any file is read; health and CORS', async (t) => {
  const { url } = rtmpOrigin;
  t.is(await status(`${url}/live/demo/180p/..%2F..%2Fetc%2Fpasswd`), 400);
  t.is(await status(`${url}/live/de mo/master.m3u8`), 400);
  t.is(await status(`${url}/live/demo/180p/x.exe`), 400);
  const bad = await fetch(`${url}/live/demo/180p/.hidden.m4s`);
  t.is(bad.status, 400);
  t.is(((await bad.json()) as { error: { code: string } }).error.code, 'RC_BAD_PATH');
  t.is(await status(`${url}/live/other/master.m3u8`), 404);
  t.is(await status(`${url}/live/demo/720p/index.m3u8`), 404);
  t.is(await status(`${url}/live/demo/180p/99999.m4s`), 404);
  t.is(await status(`${url}/live/demo/master.m3u8`, { method: 'POST' }), 405);
  const health = await fetch(`${url}/healthz`);
  t.is(health.status, 200);
  const pl = await fetch(`${url}/live/demo/180p/index.m3u8`);
  t.is(pl.headers.get('cache-control'), 'public, max-age=1');
  t.is(pl.headers.get('access-control-allow-origin'), '*');
  t.is(pl.headers.get('content-type'), 'application/vnd.apple.mpegurl');
  const head = await fetch(`${url}/live/demo/master.m3u8`, { method: 'HEAD' });
  t.is(head.status, 200);
  t.true(Number(head.headers.get('content-length')) > 0);
  t.is(await head.text(), '');
  const preflight = await fetch(`${url}/live/demo/master.m3u8`, { method: 'OPTIONS' });
  t.is(preflight.status, 204);
  t.is(preflight.headers.get('access-control-allow-origin'), '*');
  // The same preflight answer as a relay's (common/hls-http.ts): players send Range.
  t.regex(preflight.headers.get('access-control-allow-headers') ?? '', /Range/);
});

test.serial(
  'a publisher back within the grace period continues the stream after a discontinuity',
  async (t) => {
    const { url, rtmpUrl } = rtmpOrigin;
    type Media = InstanceType<typeof HLS.types.MediaPlaylist>;
    const media = async () => HLS.parse(await getText(`${url}/live/demo/180p/index.m3u8`)) as Media;
    const lastMsn = (await media()).segments.at(-1)!.mediaSequenceNumber;
    // Numbered from the wall clock at stream creation: a restarted origin never reuses a number.
    t.true(lastMsn > Date.parse('2025-01-01') / 1000 && lastMsn <= Date.now() / 1000, `${lastMsn}`);
    publishers.killAll();
    await Promise.all(publishers.runs.map((p) => p.exited));
    publish(`${rtmpUrl}/${KEY}`);
    const pl = await waitFor(
      async () => {
        const m = await media();
        return m.segments.some((s) => s.discontinuity && s.mediaSequenceNumber > lastMsn) ? m : undefined;
      },
      { timeoutMs: 40_000, what: 'segments of the returning publisher' },
    );
    t.false(pl.endlist);
    const msns = pl.segments.map((s) => s.mediaSequenceNumber);
    t.deepEqual(
      msns,
      msns.map((_, i) => msns[0]! + i),
    );
    t.false(coordinator.streams.some((s) => s.body.state === 'ended'));
  },
);

test.serial('the publisher leaves: ENDLIST after the grace period, stream announced as ended', async (t) => {
  const { url } = rtmpOrigin;
  publishers.killAll();
  const text = await waitFor(
    async () => {
      const pl = await getText(`${url}/live/demo/180p/index.m3u8`);
      return pl.includes('#EXT-X-ENDLIST') ? pl : undefined;
    },
    { timeoutMs: 20_000, what: 'ENDLIST' },
  );
  t.true(segmentsIn(text) >= 1);
  await waitFor(() => coordinator.streams.some((s) => s.body.state === 'ended'), { what: 'ended announced' });
  t.pass();
});
