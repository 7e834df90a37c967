import test from 'ava';
import { waitFor } from '../../harness/wait.ts';
import { DEFAULT_PENDING_LIMITS, PendingConnections } from '../../origin/pending-connections.ts';
import { addressOf } from '../../origin/publish-backoff.ts';
import { type ChildOrigin, publishSequence, RawRtmp, startChildOrigin } from './rtmp-client.ts';

// A stranger opening many RTMP connections: each may hold up to 256 KiB of parser buffers before it
// publishes, for up to the 10 s idle timeout, so without a bound on how many wait at once the
// per-connection caps add up without limit. Against a child-process origin at its defaults.
let origin: ChildOrigin;
const connections: RawRtmp[] = [];

test.before(async () => {
  origin = await startChildOrigin();
});

test.after.always(async () => {
  for (const c of connections) c.destroy();
  await origin?.stop();
});

const open = async (localAddress: string) => {
  const c = await RawRtmp.open(origin.rtmpPort, localAddress);
  connections.push(c);
  return c;
};
const rejected = () =>
  origin.metric('ringcast_origin_rtmp_rejected_total', { reason: 'too_many_connections' });

test.serial(
  'past 64 waiting connections from one address the next is closed at once; others go on',
  async (t) => {
    const { perAddress } = DEFAULT_PENDING_LIMITS;
    const held = await Promise.all(Array.from({ length: perAddress }, () => open('127.0.0.7')));
    let heldClosed = 0;
    for (const c of held) void c.closed.then(() => heldClosed++);
    // The origin took them all in order: one more from that address is over the limit.
    const extra = await open('127.0.0.7');
    let extraClosed = false;
    void extra.closed.then(() => {
      extraClosed = true;
    });
    // Well inside the 10 s idle timeout, which would close it too, with another reason.
    await waitFor(async () => extraClosed && (await rejected()) === 1, {
      timeoutMs: 8000,
      what: 'the extra connection closed as too_many_connections',
    });
    t.is(heldClosed, 0, 'the 64 already waiting are left alone');

    // Another address, and the rightful publisher, are not held back by that address's connections.
    const publisher = await open('127.0.0.1');
    publisher.send(publishSequence(origin.key));
    t.true(await publisher.waitForText('NetStream.Publish.Start'), 'the right key still publishes');
    const other = await open('127.0.0.8');
    other.send(publishSequence('not-the-key'));
    t.true(await other.waitForText('NetStream.Publish.Unauthorized'), 'another address is answered');

    // A place freed is a place taken again: the address is limited, not banned.
    held[0]!.destroy();
    await held[0]!.closed;
    await waitFor(
      async () => {
        const again = await open('127.0.0.7');
        again.send(publishSequence('not-the-key'));
        return again.waitForText('NetStream.Publish.Unauthorized', 2000);
      },
      { timeoutMs: 8000, what: 'a new connection from 127.0.0.7 answered once one of its 64 left' },
    );
    t.true(origin.alive());
  },
);

test('the limits count IPv6 peers per /64, IPv4-mapped peers as IPv4, and hold in all', (t) => {
  const pending = new PendingConnections({ perAddress: 2, total: 3 });
  const a = pending.take(addressOf('2001:db8:0:1::1:4000'));
  const b = pending.take(addressOf('2001:db8:0:1::2:4001'));
  t.regex(
    (pending.take(addressOf('2001:db8:0:1:ffff::3:4002')) as { refused: string }).refused,
    /from 2001:db8/,
  );
  const c = pending.take(addressOf('::ffff:10.0.0.1:4003'));
  t.true('release' in c);
  t.regex((pending.take(addressOf('10.0.0.2:4004')) as { refused: string }).refused, /3 connections/);
  const local = pending.take('127.0.0.1', false); // loopback: the origin's own pull, outside the total
  t.true('release' in local, 'a loopback connection is taken with the total full');
  for (const p of [a, b, c, local]) if ('release' in p) p.release();
  if ('release' in a) a.release(); // twice: no place given back twice
  t.is(pending.size, 0);
  t.is(pending.addresses, 0);
});
