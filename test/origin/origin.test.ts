import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import test from 'ava';
import HLS from 'hls-parser';
import { listen } from '../../common/http.ts';
import { silentLogger } from '../../common/log.ts';
import type { SegmentAnnouncement, StreamInfo } from '../../common/types.ts';
import { type FfmpegRun, publishTestPattern, runFfmpeg } from '../../harness/ffmpeg.ts';
import { getText, sumMetric, waitFor } from '../../harness/wait.ts';
import { Origin } from '../../origin/app.ts';
import { loadOriginConfig } from '../../origin/config.ts';

// Media tests share 2 cores with other engineers: one origin at a time, tiny ladder, serial.
const LADDER = '180p:320x180:300k:64k,90p:160x90:150k:48k';
const KEY = `key${process.pid}x${Date.now()}`;
const SECRET = 'test-secret';

/** A stand-in coordinator that records what the origin announces. */
interface FakeCoordinator {
  url: string;
  streams: Array<{ id: string; body: Omit<StreamInfo, 'id'>; auth?: string }>;
  segments: SegmentAnnouncement[];
  server: Server;
}

async function fakeCoordinator(): Promise<FakeCoordinator> {
  const fake = { streams: [], segments: [] } as unknown as FakeCoordinator;
  fake.server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      const m = /^\/api\/v1\/streams\/([^/]+)(\/segments)?$/.exec(req.url ?? '');
      if (m && req.method === 'PUT')
        fake.streams.push({ id: m[1]!, body: JSON.parse(body), auth: req.headers.authorization });
      else if (m?.[2] && req.method === 'POST') fake.segments.push(JSON.parse(body));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  fake.url = await listen(fake.server, 0);
  return fake;
}

async function startOrigin(overrides: Record<string, unknown>) {
  const config = loadOriginConfig(
    [],
    {},
    {
      port: 0,
      rtmpPort: 0,
      ladder: LADDER,
      fps: 15,
      testsrcSize: '320x180',
      clusterSecret: SECRET,
      announceIntervalMs: 500,
      ...overrides,
    },
  );
  const origin = new Origin(config, { log: silentLogger() });
  const urls = await origin.start();
  return { origin, ...urls };
}

const status = async (url: string, init?: RequestInit) => (await fetch(url, init)).status;
const segmentsIn = (text: string) => (text.match(/#EXTINF/g) ?? []).length;
const publishers: FfmpegRun[] = [];
const publish = (url: string, seconds?: number) => {
  const run = publishTestPattern(url, { seconds });
  publishers.push(run);
  return run;
};

let coordinator: FakeCoordinator;
let rtmpOrigin: Awaited<ReturnType<typeof startOrigin>>;

test.before(async () => {
  coordinator = await fakeCoordinator();
  rtmpOrigin = await startOrigin({
    source: 'rtmp',
    streamKey: KEY,
    endGraceMs: 4000,
    coordinatorUrl: coordinator.url,
  });
});

test.after.always(async () => {
  for (const p of publishers) p.kill();
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

test.serial('the right key is accepted: segments, playlists with PDT, announcements', async (t) => {
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

  // A second publisher on the live key is refused; the first keeps going.
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
    for (const p of publishers) p.kill();
    await Promise.all(publishers.map((p) => p.exited));
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
  for (const p of publishers) p.kill();
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

test.serial(
  'test source: an ffmpeg HLS client reads the origin; publishers are refused; a crash restarts ffmpeg; close kills it',
  async (t) => {
    const { origin, url, rtmpUrl } = await startOrigin({ source: 'testsrc', streamKey: KEY });
    t.teardown(() => origin.close());
    await waitFor(async () => (await status(`${url}/live/demo/master.m3u8`)) === 200, {
      timeoutMs: 60_000,
      what: 'master playlist',
    });
    const refused = publish(`${rtmpUrl}/${KEY}`, 3);
    t.not(await refused.exited, 0);

    const reader = runFfmpeg(['-i', `${url}/live/demo/master.m3u8`, '-t', '6', '-f', 'null', '-']);
    const code = await reader.exited;
    t.is(code, 0, reader.stderr());

    const transcoders = () =>
      execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.includes('/ingest/'))
        .map((l) => Number(l.trim().split(' ')[0]));
    t.is(transcoders().length, 1);

    // A crashed transcoder is restarted; numbering continues after a discontinuity.
    type Media = InstanceType<typeof HLS.types.MediaPlaylist>;
    const media = async () => HLS.parse(await getText(`${url}/live/demo/90p/index.m3u8`)) as Media;
    const before = await media();
    const lastMsn = before.segments.at(-1)!.mediaSequenceNumber;
    process.kill(transcoders()[0]!, 'SIGKILL');
    const after = await waitFor(
      async () => {
        const pl = await media();
        return pl.segments.some((s) => s.discontinuity && s.mediaSequenceNumber > lastMsn) ? pl : undefined;
      },
      { timeoutMs: 40_000, what: 'segments after the restart' },
    );
    t.true(after.mediaSequenceBase! >= before.mediaSequenceBase!);
    const metrics = await getText(`${url}/metrics`);
    t.is(sumMetric(metrics, 'ringcast_origin_ffmpeg_exits_total', { reason: 'crashed' }), 1);
    t.is(transcoders().length, 1);
    await origin.close();
    await waitFor(() => transcoders().length === 0, { timeoutMs: 5000, what: 'ffmpeg gone' });
    t.is(await status(`${url}/healthz`).catch(() => 'closed'), 'closed');
  },
);

test.serial('low latency: parts, preload hint, blocking playlist reload and part holds', async (t) => {
  const fake = await fakeCoordinator();
  t.teardown(() => fake.server.close());
  const { origin, url } = await startOrigin({
    source: 'testsrc',
    streamKey: KEY,
    lowLatency: true,
    coordinatorUrl: fake.url,
  });
  t.teardown(() => origin.close());
  const playlistUrl = `${url}/live/demo/180p/index.m3u8`;
  type Media = InstanceType<typeof HLS.types.MediaPlaylist>;
  const first = await waitFor(
    async () => {
      const res = await fetch(playlistUrl);
      return res.status === 200 ? res.text() : undefined;
    },
    { timeoutMs: 60_000, what: 'LL playlist' },
  );
  t.regex(first, /#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES/);
  t.regex(first, /#EXT-X-PART-INF:PART-TARGET=0\.23\b/);
  t.regex(first, /#EXT-X-PART:DURATION=[0-9.]+,URI="\d+\.\d+\.m4s"/);
  t.regex(first, /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="\d+\.\d+\.m4s"/);
  const pl = HLS.parse(first) as Media;
  const last = pl.segments.filter((s) => s.uri).at(-1)!.mediaSequenceNumber;

  // Blocking reload: the answer comes once segment last+1 is complete, not before.
  const started = Date.now();
  const blocked = HLS.parse(await getText(`${playlistUrl}?_HLS_msn=${last + 1}`)) as Media;
  t.true(blocked.segments.some((s) => s.uri && s.mediaSequenceNumber === last + 1));
  t.true(Date.now() - started < 6000);
  t.is(await status(`${playlistUrl}?_HLS_msn=${last + 50}`), 400);
  t.is(await status(`${playlistUrl}?_HLS_msn=abc`), 400);

  // The preload hint is held until that part is complete, then served as fMP4 (moof first).
  const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(await getText(playlistUrl))![1]!;
  const part = await fetch(`${url}/live/demo/180p/${hint}`);
  t.is(part.status, 200);
  const bytes = Buffer.from(await part.arrayBuffer());
  t.is(bytes.toString('latin1', 4, 8), 'moof');
  t.is(part.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  t.is(await status(`${url}/live/demo/180p/999.0.m4s`), 404);

  // The stream was announced as low latency, and as ended when the origin shut down.
  t.true(fake.streams.some((s) => s.body.state === 'live' && s.body.lowLatency === true));
  await origin.close();
  t.is(fake.streams.at(-1)?.body.state, 'ended');
});
