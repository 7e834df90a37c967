import { connect } from 'node:net';
import test from 'ava';
import { amf, FuzzRandom } from '../../harness/rtmp-fuzz-cases.ts';
import { chunk, handshake } from '../../harness/rtmp-fuzz-chunks.ts';
import { waitFor } from '../../harness/wait.ts';
import { type ChildOrigin, publishSequence, RawRtmp, startChildOrigin } from './rtmp-client.ts';

// A stranger that sends commands before publishing and never reads the answers: node-media-server
// answers each ~80 B connect with about a kilobyte, so unread answers piled up in the origin's memory
// (21 MiB of connects grew it by 330 MiB in 8 s, measured in review). Against a child-process origin.
let origin: ChildOrigin;

test.before(async () => {
  origin = await startChildOrigin();
});

test.after.always(async () => {
  await origin?.stop();
});

const externalMiB = async () =>
  (await origin.metric('ringcast_origin_nodejs_external_memory_bytes')) / 2 ** 20;

test('a peer that never reads its answers is closed before they pile up; others are answered', async (t) => {
  // Reads better whole: one peer's flood measured from before it starts until after it is closed.
  const before = await externalMiB();
  const sock = connect({ port: origin.rtmpPort, host: '127.0.0.1', localAddress: '127.0.0.9' });
  t.teardown(() => sock.destroy());
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  sock.on('error', () => {});
  sock.pause(); // never reads a byte
  let closed = false;
  sock.once('close', () => {
    closed = true;
  });
  sock.write(handshake(new FuzzRandom(7)));
  const connectMsg = chunk({
    type: 20,
    payload: Buffer.concat([
      amf.string('connect'),
      amf.number(1),
      amf.object([
        ['app', amf.string('live')],
        ['tcUrl', amf.string('rtmp://127.0.0.1/live')],
      ]),
    ]),
  });
  // Up to 8 MiB of connects (about 100,000), as fast as the origin takes them, until it closes us.
  const batch = Buffer.concat(Array(1000).fill(connectMsg));
  let sent = 0;
  while (!closed && sent < 8 * 2 ** 20) {
    if (!sock.write(batch))
      await new Promise<void>((resolve) => {
        sock.once('drain', resolve);
        sock.once('close', resolve);
      });
    sent += batch.length;
  }
  await waitFor(
    async () =>
      closed && (await origin.metric('ringcast_origin_rtmp_rejected_total', { reason: 'not_reading' })) === 1,
    {
      timeoutMs: 8000,
      what: `the connection closed as not_reading (sent ${(sent / 2 ** 20).toFixed(1)} MiB)`,
    },
  );
  const grown = (await externalMiB()) - before;
  t.log(`closed after ${(sent / 2 ** 20).toFixed(1)} MiB sent; external memory +${grown.toFixed(1)} MiB`);
  t.true(grown < 16, `origin external memory grew ${grown.toFixed(1)} MiB`);
  t.true(origin.alive());

  // A peer that reads is answered as before.
  const reader = await RawRtmp.open(origin.rtmpPort, '127.0.0.10');
  t.teardown(() => reader.destroy());
  reader.send(publishSequence('not-the-key'));
  t.true(await reader.waitForText('NetStream.Publish.Unauthorized'));
});
