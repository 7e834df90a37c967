import test from 'ava';
import { type FfmpegRun, publishTestPattern } from '../../harness/ffmpeg.ts';
import { amf } from '../../harness/rtmp-fuzz-cases.ts';
import { chunk } from '../../harness/rtmp-fuzz-chunks.ts';
import { waitFor } from '../../harness/wait.ts';
import { type ChildOrigin, command, publishSequence, RawRtmp, startChildOrigin } from './rtmp-client.ts';

// A stranger on the RTMP port of a child-process origin (an uncaught exception ends the process): each
// malformed message closes that one connection with a reason, a refused publisher is told so, refused
// attempts are limited per address, and the live stream keeps publishing throughout.
let origin: ChildOrigin;
const publishers: FfmpegRun[] = [];
const connections: RawRtmp[] = [];

// The live stream every test checks on: started here, so no test depends on another having run.
test.before(async () => {
  origin = await startChildOrigin();
  const run = publishTestPattern(`${origin.rtmpUrl}/${origin.key}`, { size: '160x90' });
  publishers.push(run);
  await waitFor(async () => (await segments()) >= 2, {
    timeoutMs: 60_000,
    what: 'segments of the publisher',
  });
});

test.after.always(async () => {
  for (const p of publishers) p.kill();
  for (const c of connections) c.destroy();
  await origin?.stop();
});

const open = async (localAddress?: string) => {
  const c = await RawRtmp.open(origin.rtmpPort, localAddress);
  connections.push(c);
  return c;
};
const rejected = (reason: string) => origin.metric('ringcast_origin_rtmp_rejected_total', { reason });
const segments = () => origin.metric('ringcast_origin_segments_published_total');
const connectMsg = (cmdObj: Buffer | undefined) =>
  command('connect', cmdObj ? [amf.number(1), cmdObj] : [amf.number(1)]);
const connectWith = (props: [string, Buffer][]) => connectMsg(amf.object(props));

test.serial(
  'an accepted publisher may send 400 KB messages; one whose connection throws leaves nothing that stops the next',
  async (t) => {
    // An origin of its own: the shared one's key is live, and this test needs it free.
    const own = await startChildOrigin();
    const run = { current: undefined as FfmpegRun | undefined };
    t.teardown(async () => {
      run.current?.kill();
      await own.stop();
    });
    const raw = await RawRtmp.open(own.rtmpPort);
    connections.push(raw);
    const rejected = (reason: string) => own.metric('ringcast_origin_rtmp_rejected_total', { reason });
    raw.send(publishSequence(own.key));
    t.true(await raw.waitForText('NetStream.Publish.Start'), 'the right key is accepted');
    // Once authorised, messages far over the pre-publish cap are read (OBS keyframes are hundreds of KB).
    const rejectedAny = await own.metric('ringcast_origin_rtmp_rejected_total');
    const keyframe = Buffer.concat([Buffer.from([0x17, 1, 0, 0, 0]), Buffer.alloc(400_000, 0x55)]);
    raw.send(chunk({ type: 9, payload: keyframe, csid: 6, streamId: 1 }));
    const results = () => raw.text().split('_result').length;
    const answered = results();
    raw.send(command('createStream', [amf.number(9), amf.null()])); // its answer: the keyframe was read
    await waitFor(() => results() > answered, { what: 'the answer after the 400 KB keyframe' });
    t.is(await own.metric('ringcast_origin_rtmp_rejected_total'), rejectedAny, 'the keyframe was taken');
    const before = await rejected('malformed');
    raw.send(connectMsg(amf.null())); // NMS's connect handler throws on a null command object
    await raw.closed;
    await waitFor(async () => (await rejected('malformed')) > before, { what: 'the rejection counted' });
    t.true(own.alive(), 'the origin runs');

    // The same key, from the same address, publishes at once: no publisher left registered in NMS.
    run.current = publishTestPattern(`${own.rtmpUrl}/${own.key}`, { size: '160x90' });
    await waitFor(async () => (await own.metric('ringcast_origin_segments_published_total')) >= 2, {
      timeoutMs: 60_000,
      what: 'segments of the new publisher',
    });
    t.is(run.current.child.exitCode, null, run.current.stderr());
  },
);

const okConnect: [string, Buffer][] = [
  ['app', amf.string('live')],
  ['tcUrl', amf.string('rtmp://127.0.0.1/live')],
];

/** Bytes after the handshake, and the reason the origin must close the connection with. */
const CASES: [string, () => Buffer, string][] = [
  ['connect with a null command object', () => connectMsg(amf.null()), 'malformed'],
  ['connect without a command object', () => connectMsg(undefined), 'malformed'],
  ['connect whose tcUrl is a number', () => connectWith([['tcUrl', amf.number(5)]]), 'malformed'],
  ['connect whose tcUrl is no URL', () => connectWith([['tcUrl', amf.string('::')]]), 'malformed'],
  [
    'Set Chunk Size with an empty payload',
    // NMS handles an empty message when the next byte comes: a command follows.
    () => Buffer.concat([chunk({ type: 1, payload: Buffer.alloc(0), csid: 2 }), connectWith(okConnect)]),
    'malformed',
  ],
  [
    'Set Chunk Size 0 (the parser would stall)',
    () => chunk({ type: 1, payload: Buffer.alloc(4), csid: 2 }),
    'malformed',
  ],
  ['Window Ack Size with 1 byte', () => chunk({ type: 5, payload: Buffer.from([1]), csid: 2 }), 'malformed'],
  [
    'Set Peer Bandwidth with 4 bytes',
    () => chunk({ type: 6, payload: Buffer.alloc(4, 1), csid: 2 }),
    'malformed',
  ],
  ['Acknowledgement with 3 bytes', () => chunk({ type: 3, payload: Buffer.alloc(3), csid: 2 }), 'malformed'],
  [
    'AMF0 objects nested 15,000 deep',
    () => command('connect', [amf.number(1), Buffer.alloc(15_000 * 4, Buffer.from([0x03, 0, 1, 0x61]))]),
    'malformed',
  ],
  [
    'publish without a stream name',
    () => Buffer.concat([connectWith(okConnect), command('publish', [amf.number(2), amf.null()], 1)]),
    'bad_command',
  ],
  [
    'play of a null name',
    () =>
      Buffer.concat([connectWith(okConnect), command('play', [amf.number(2), amf.null(), amf.null()], 1)]),
    'bad_command',
  ],
  [
    'a message declaring 16 MiB before publish',
    () => chunk({ type: 20, payload: Buffer.alloc(100), declaredLength: 0xffffff }),
    'message_too_large',
  ],
  [
    'five chunk streams each half-way through a 60 KiB message',
    () =>
      Buffer.concat(
        [4, 5, 6, 7, 8].map((csid) =>
          chunk({ type: 9, payload: Buffer.alloc(128), declaredLength: 60_000, csid }),
        ),
      ),
    'message_too_large',
  ],
  [
    '40 chunk streams before publish',
    () =>
      Buffer.concat(
        Array.from({ length: 40 }, (_, i) =>
          chunk({ type: 9, payload: Buffer.alloc(128), declaredLength: 200, csid: 10 + i }),
        ),
      ),
    'malformed',
  ],
];

for (const [name, bytes, reason] of CASES) {
  test.serial(`${name}: that connection closes (${reason}); the origin and the stream go on`, async (t) => {
    const before = await rejected(reason);
    const raw = await open();
    raw.send(bytes());
    await raw.closed;
    await waitFor(async () => (await rejected(reason)) === before + 1, {
      what: `rejected{reason=${reason}}`,
    });
    t.true(origin.alive(), 'the origin runs');
  });
}

test.serial('the live stream kept publishing through the malformed connections', async (t) => {
  const now = await segments();
  await waitFor(async () => (await segments()) > now, { timeoutMs: 15_000, what: 'a new segment' });
  t.is(publishers[0]!.child.exitCode, null, 'the publisher still runs');
});

// Buffer.alloc of 16 MiB is calloc'd (RSS hardly moves), but V8 counts it as external memory at once.
const externalMiB = async () =>
  (await origin.metric('ringcast_origin_nodejs_external_memory_bytes')) / 2 ** 20;

test.serial(
  '20 connections declaring 16 MiB messages before publish: nothing near that is allocated',
  async (t) => {
    const before = await externalMiB();
    const raws = await Promise.all(Array.from({ length: 20 }, () => open()));
    for (const raw of raws)
      raw.send(chunk({ type: 8, payload: Buffer.alloc(10), declaredLength: 0xffffff, csid: 4 }));
    let closed = 0;
    for (const raw of raws) void raw.closed.then(() => closed++);
    // Until the origin closed them all, or allocated what they declared.
    await waitFor(async () => closed === raws.length || (await externalMiB()) - before > 100, {
      timeoutMs: 15_000,
      what: 'the connections closed',
    });
    const grown = (await externalMiB()) - before;
    t.true(grown < 64, `origin external memory grew ${grown.toFixed(1)} MiB (20 × 16 MiB declared)`);
    t.is(closed, raws.length, 'each connection closed at once');
    t.true(origin.alive());
  },
);

test.serial(
  'a refused publisher is told so (Unauthorized, never Publish.Start); ffmpeg names the refusal',
  async (t) => {
    const raw = await open('127.0.0.2');
    raw.send(publishSequence('not-the-key'));
    t.true(await raw.waitForText('NetStream.Publish.Unauthorized'));
    t.true(raw.text().includes('publish refused: wrong stream key'));
    t.false(raw.text().includes('NetStream.Publish.Start'));
    await raw.closed;

    const started = Date.now();
    const ff = publishTestPattern(`${origin.rtmpUrl}/also-not-the-key`, { size: '160x90', seconds: 10 });
    publishers.push(ff);
    t.not(await ff.exited, 0);
    t.regex(ff.stderr(), /Server error: publish refused: wrong stream key/);
    t.true(Date.now() - started < 5000, `ffmpeg exited after ${Date.now() - started} ms`);
  },
);

/** One publish attempt from `address`; returns the description the origin answered with. */
async function attempt(address: string, key: string): Promise<string> {
  const raw = await open(address);
  raw.send(publishSequence(key));
  await raw.waitForText('NetStream.Publish.');
  await raw.closed;
  return /publish refused: ([ -~]*)/.exec(raw.text())?.[1] ?? raw.text().slice(-80);
}

test.serial(
  'after 5 refused keys an address is refused at once, even with the right key; others are not',
  async (t) => {
    const before = await rejected('backoff');
    for (let i = 0; i < 5; i++) t.regex(await attempt('127.0.0.3', `wrong${i}`), /^wrong stream key/);
    t.regex(await attempt('127.0.0.3', 'wrong5'), /^too many refused attempts from this address/);
    t.regex(await attempt('127.0.0.3', origin.key), /^too many refused attempts/);
    t.regex(await attempt('127.0.0.4', 'wrong'), /^wrong stream key/, 'another address is not locked out');
    t.is(await rejected('backoff'), before + 2);
    t.is(publishers[0]!.child.exitCode, null, 'the live publisher (127.0.0.1) is untouched');
  },
);
