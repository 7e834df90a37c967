import test from 'ava';
import { silentLogger } from '../../common/log.ts';
import { OriginBreaker, PEER_REFUSED_MS } from '../../relay/origin-breaker.ts';

const O1 = 'http://o1:9000';
const O2 = 'http://o2:9000';

/** A breaker on a clock the test moves; its probes are far off, and it is closed when the test ends. */
function breaker(t: { teardown(fn: () => void): void }, probeAfterMs = 60_000) {
  const clock = { now: 1_000_000 };
  const b = new OriginBreaker({
    probeAfterMs,
    probeTimeoutMs: 1000,
    log: silentLogger(),
    now: () => clock.now,
  });
  t.teardown(() => b.close());
  return { b, clock };
}

test('refusals: per origin, kept PEER_REFUSED_MS, cleared when the peer serves', (t) => {
  const { b, clock } = breaker(t);
  t.deepEqual([...b.refusedPeers(O1)], []);
  b.peerRefused('r1', O1);
  b.peerRefused('r2', O1);
  t.deepEqual([...b.refusedPeers(O1)].sort(), ['r1', 'r2']);
  t.deepEqual([...b.refusedPeers(O2)], [], 'another origin is not affected');
  b.peerServed('r2', O1);
  t.deepEqual([...b.refusedPeers(O1)], ['r1']);
  clock.now += PEER_REFUSED_MS - 1;
  t.deepEqual([...b.refusedPeers(O1)], ['r1']);
  clock.now += 1;
  t.deepEqual([...b.refusedPeers(O1)], [], 'expired');
  b.peerServed('r1', O1);
  t.deepEqual([...b.refusedPeers(O1)], []);
});

test('a link failure opens the breaker; a success closes it; 0 turns it off', (t) => {
  const { b } = breaker(t);
  t.false(b.isOpen(O1));
  b.failed(O1);
  t.true(b.isOpen(O1));
  t.false(b.isOpen(O2));
  t.is(b.openCount, 1);
  b.succeeded(O1);
  t.false(b.isOpen(O1));
  t.is(b.openCount, 0);
  const off = breaker(t, 0).b;
  off.failed(O1);
  t.false(off.isOpen(O1));
});

test('link failures just after a freeze are the freeze, not the link', (t) => {
  const { b, clock } = breaker(t);
  // The event loop ran 3 s late: a freeze.
  clock.now += 3000;
  b.failed(O1);
  t.false(b.isOpen(O1), 'right after waking');
  clock.now += 1999;
  b.failed(O1);
  t.false(b.isOpen(O1), 'still within the grace');
  clock.now += 1;
  b.failed(O1);
  t.true(b.isOpen(O1), 'the link itself');
});

test('a late loop under 2.5 s is no freeze', (t) => {
  const { b, clock } = breaker(t);
  clock.now += 2500;
  b.failed(O1);
  t.true(b.isOpen(O1));
});
