import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import test from 'ava';
import HLS from 'hls-parser';
import { getText, sumMetric, waitFor } from '../../harness/wait.ts';
import type { Origin } from '../../origin/app.ts';
import { childProcesses, publisherPool, SECRET, startOrigin, transcoderPids } from './origin-kit.ts';
import { probedAttributes, probeInitAndSegment, variantAttributes } from './probe-kit.ts';
import { type StandInCoordinator, standInCoordinator } from './stand-in-coordinator.ts';

// Several streams in one origin, keys from a (stand-in) coordinator. Media tests are serial, tiny ladder.
const tag = `${process.pid}x${Date.now()}`;
const KEY_A = `alpha-key-${tag}`;
const KEY_B = `beta-key-${tag}`;
const KEY_BAD = `gamma-key-${tag}`;
const KEY_DOWN = `down-key-${tag}`;

type Media = InstanceType<typeof HLS.types.MediaPlaylist>;
type Master = InstanceType<typeof HLS.types.MasterPlaylist>;

let coordinator: StandInCoordinator;
let origin: Origin;
let url: string;
let rtmpUrl: string;
const publishers = publisherPool();
const publish = (key: string, seconds?: number) => publishers.publish(`${rtmpUrl}/${key}`, { seconds });
const media = async (streamId: string, rendition = '180p') =>
  HLS.parse(await getText(`${url}/live/${streamId}/${rendition}/index.m3u8`)) as Media;
const lastMsn = async (streamId: string) =>
  (await media(streamId)).segments.at(-1)?.mediaSequenceNumber ?? -1;
const waitForMsn = (streamId: string, msn: number, what: string) =>
  waitFor(async () => ((await lastMsn(streamId).catch(() => -1)) >= msn ? true : undefined), {
    timeoutMs: 60_000,
    what,
  });
const STREAM_OF_KEY: Record<string, string> = { [KEY_A]: 'alpha', [KEY_B]: 'beta' };
/** The transcoders (children of this process) pulling the publisher of `key`'s stream. */
const transcoders = (key: string) => {
  const path = origin.rtmpInputPath(STREAM_OF_KEY[key]!);
  return path ? transcoderPids(`/live/${path} `) : [];
};

test.before(async () => {
  coordinator = await standInCoordinator({ secret: SECRET, checksKeys: true, downKey: KEY_DOWN });
  coordinator.keys.set(KEY_A, 'alpha');
  coordinator.keys.set(KEY_B, 'beta');
  coordinator.keys.set(KEY_BAD, 'gamma');
  ({ origin, url, rtmpUrl } = await startOrigin({
    source: 'rtmp',
    streamKey: '',
    coordinatorUrl: coordinator.url,
    keyRecheckMs: 500,
    endGraceMs: 8000,
  }));
});

test.after.always(async () => {
  publishers.killAll();
  await origin?.close();
  coordinator?.server.close();
});

test.serial('keys are asked of the coordinator: unknown and unverifiable keys are refused', async (t) => {
  const unknown = publish('no-such-key', 4);
  t.not(await unknown.exited, 0);
  const down = publish(KEY_DOWN, 4);
  t.not(await down.exited, 0);
  t.deepEqual(coordinator.authCalls, ['no-such-key', KEY_DOWN]);
  const metrics = await getText(`${url}/metrics`);
  t.is(sumMetric(metrics, 'ringcast_origin_publish_refused_total', { reason: 'wrong stream key' }), 1);
  t.is(sumMetric(metrics, 'ringcast_origin_publish_refused_total', { reason: 'key check failed' }), 1);
  t.is(sumMetric(metrics, 'ringcast_origin_segments_published_total'), 0);
});

test.serial(
  'two streams at once, each under the streamId its key maps to; CODECS and RESOLUTION match ffprobe',
  async (t) => {
    // Reads better whole: two publishers up, then what each of them shows (transcoders, announcements, media).
    const a = publish(KEY_A);
    const b = publish(KEY_B);
    await waitForMsn('alpha', 1, 'alpha segments');
    await waitForMsn('beta', 1, 'beta segments');
    t.is(a.child.exitCode, null, a.stderr());
    t.is(b.child.exitCode, null, b.stderr());
    t.is(transcoders(KEY_A).length, 1);
    t.is(transcoders(KEY_B).length, 1);
    // The transcoders pull a path of the origin's own: no stream key on their command lines (the
    // publishers, children of this test too, carry theirs).
    const pulls = childProcesses().filter((l) => l.includes('/ingest/'));
    t.is(pulls.length, 2);
    t.false(pulls.some((l) => l.includes(KEY_A) || l.includes(KEY_B)));
    for (const id of ['alpha', 'beta'])
      await waitFor(() => coordinator.segments.some((s) => s.streamId === id), { what: `${id} announced` });
    t.true(
      coordinator.streams.some((s) => s.id === 'alpha' && s.body.state === 'live'),
      'alpha reported live',
    );
    t.true(
      coordinator.streams.some((s) => s.id === 'beta' && s.body.state === 'live'),
      'beta reported live',
    );
    // Counted as announcements go out, which may trail the playlist a moment: wait for the second.
    await waitFor(
      async () =>
        sumMetric(await getText(`${url}/metrics`), 'ringcast_origin_segments_published_total', {
          stream: 'beta',
        }) >= 2,
      { what: 'two beta segments counted as published' },
    );

    // The master playlist's CODECS, RESOLUTION and FRAME-RATE against ffprobe on init + a segment.
    const master = HLS.parse(await getText(`${url}/live/alpha/master.m3u8`)) as Master;
    for (const variant of master.variants) {
      const rendition = variant.uri.split('/')[0]!;
      const pl = await media('alpha', rendition);
      const base = `${url}/live/alpha/${rendition}`;
      const probed = await probeInitAndSegment(
        `${base}/${pl.segments[0]!.map.uri}`,
        `${base}/${pl.segments.at(-1)!.uri}`,
      );
      t.deepEqual(variantAttributes(variant), probedAttributes(probed), rendition);
      t.is(variant.frameRate, 15);
    }
  },
);

test.serial('a second publisher on a live key is refused; the first keeps publishing', async (t) => {
  const before = await lastMsn('alpha');
  const second = publish(KEY_A, 4);
  t.not(await second.exited, 0);
  await waitForMsn('alpha', before + 2, 'alpha goes on');
  t.is(transcoders(KEY_A).length, 1);
});

test.serial(
  'bad input next to a live stream: garbage, silence, audio only → error state; alpha goes on',
  async (t) => {
    const before = await lastMsn('alpha');
    // Garbage bytes on the RTMP port, and a client that connects and sends nothing.
    const port = Number(new URL(rtmpUrl).port);
    const garbage = connect(port, '127.0.0.1');
    garbage.on('error', () => {});
    garbage.write(Buffer.alloc(4096, 0x5a));
    const silent = connect(port, '127.0.0.1');
    silent.on('error', () => {});
    silent.resume(); // flowing, so the origin's close is seen as 'end'
    t.teardown(() => {
      garbage.destroy();
      silent.destroy();
    });
    // Audio only: the transcoder has no video to scale; the stream goes to `error` with ffmpeg's reason.
    const audioOnly = publishers.publish(`${rtmpUrl}/${KEY_BAD}`, { video: false });
    const err = await waitFor(
      () => coordinator.streams.find((s) => s.id === 'gamma' && s.body.state === 'error'),
      { timeoutMs: 60_000, what: 'gamma in error' },
    );
    t.regex(err.body.reason ?? '', /no video|matches no streams/);
    t.is(origin.stream('gamma')?.state, 'error');
    await waitFor(() => silent.destroyed || silent.readableEnded || undefined, {
      timeoutMs: 20_000,
      what: 'the silent client dropped',
    });
    audioOnly.kill();
    await waitForMsn('alpha', before + 2, 'alpha goes on');
    t.is(transcoders(KEY_A).length, 1);
  },
);

test.serial(
  'SIGKILL of the transcoder: restart, discontinuity, numbering goes on, every listed segment is whole',
  async (t) => {
    const before = await media('alpha', '90p');
    const last = before.segments.at(-1)!.mediaSequenceNumber;
    const [pid] = transcoders(KEY_A);
    process.kill(pid!, 'SIGKILL');
    const after = await waitFor(
      async () => {
        const pl = await media('alpha', '90p');
        const i = pl.segments.findIndex((s) => s.discontinuity && s.mediaSequenceNumber > last);
        return i >= 0 && pl.segments.length > i + 1 ? pl : undefined;
      },
      { timeoutMs: 60_000, what: 'segments after the restart' },
    );
    t.true(after.mediaSequenceBase! >= before.mediaSequenceBase!);
    const msns = after.segments.map((s) => s.mediaSequenceNumber);
    t.deepEqual(
      msns,
      msns.map((_, i) => msns[0]! + i),
      'no gap, never backwards',
    );
    t.not(transcoders(KEY_A)[0], pid);
    // No stale or partial segment: each listed one is served with the size and digest announced for it.
    for (const s of after.segments) {
      const bytes = Buffer.from(await (await fetch(`${url}/live/alpha/90p/${s.uri}`)).arrayBuffer());
      const ann = await waitFor(() =>
        coordinator.segments.find((a) => a.streamId === 'alpha' && a.rendition === '90p' && a.file === s.uri),
      );
      t.is(bytes.length, ann.size);
      t.is(createHash('sha256').update(bytes).digest('hex'), ann.sha256);
      t.true(s.duration > 0 && s.duration <= after.targetDuration + 0.5);
    }
  },
);

test.serial(
  'a publisher that drops and comes back within the grace period continues the stream',
  async (t) => {
    for (const p of publishers.runs.filter(
      (p) => p.child.exitCode === null && p.child.spawnargs.at(-1)!.endsWith(KEY_A),
    ))
      p.kill();
    const last = await lastMsn('alpha');
    await waitFor(() => !origin.stream('alpha') || transcoders(KEY_A).length === 0 || undefined, {
      timeoutMs: 10_000,
      what: 'transcoder stopped',
    });
    publish(KEY_A);
    const pl = await waitFor(
      async () => {
        const p = await media('alpha');
        return p.segments.some((s) => s.discontinuity && s.mediaSequenceNumber > last) ? p : undefined;
      },
      { timeoutMs: 60_000, what: 'segments after the reconnect' },
    );
    t.false(pl.endlist);
    t.true(pl.segments.at(-1)!.mediaSequenceNumber > last);
    t.is(origin.stream('alpha')?.state, 'live');
  },
);

test.serial('a revoked key stops its live publisher; the stream ends with ENDLIST', async (t) => {
  const b = publishers.runs.find((p) => p.child.spawnargs.at(-1)!.endsWith(KEY_B))!;
  coordinator.keys.delete(KEY_B);
  t.not(await b.exited, 0);
  const text = await waitFor(
    async () => {
      const pl = await getText(`${url}/live/beta/180p/index.m3u8`);
      return pl.includes('#EXT-X-ENDLIST') ? pl : undefined;
    },
    { timeoutMs: 30_000, what: 'ENDLIST' },
  );
  t.regex(text, /#EXTINF/);
  await waitFor(() => coordinator.streams.some((s) => s.id === 'beta' && s.body.state === 'ended'), {
    what: 'beta ended',
  });
  const again = publish(KEY_B, 4);
  t.not(await again.exited, 0);
});

test.serial('closing the origin stops every transcoder', async (t) => {
  await waitFor(() => transcoders(KEY_A).length === 1 || undefined, { what: 'alpha transcoding' });
  await origin.close();
  await waitFor(() => transcoderPids().length === 0 || undefined, {
    timeoutMs: 10_000,
    what: 'no ffmpeg left',
  });
  t.pass();
});
