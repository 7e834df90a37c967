import test from 'ava';
import HLS from 'hls-parser';
import { runFfmpeg } from '../../harness/ffmpeg.ts';
import { getText, sumMetric, waitFor } from '../../harness/wait.ts';
import { publisherPool, SECRET, startOrigin, status, transcoderPids } from './origin-kit.ts';
import { standInCoordinator } from './stand-in-coordinator.ts';

// Origins fed by the test pattern, each test its own: a crashed transcoder, and LL-HLS.
const KEY = `key${process.pid}x${Date.now()}`;
const publishers = publisherPool();
const publish = (url: string, seconds?: number) => publishers.publish(url, { seconds });

test.after.always(() => publishers.killAll());

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

    const transcoders = () => transcoderPids();
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
  // Reads better whole: one origin's life, from the first LL playlist to its ended announcement.
  const fake = await standInCoordinator({ secret: SECRET });
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
