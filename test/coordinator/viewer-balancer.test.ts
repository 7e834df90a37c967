import test from 'ava';
import type { RelayInfo } from '../../common/types.ts';
import { ViewerBalancer } from '../../coordinator/viewer-balancer.ts';

function relays(n: number, state: RelayInfo['state'] = 'active'): RelayInfo[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `relay-${i}`,
    url: `http://127.0.0.1:${9000 + i}`,
    capacity: 1,
    state,
  }));
}

function place(b: ViewerBalancer, count: number, prefix = 's'): void {
  for (let i = 0; i < count; i++) b.assign(`${prefix}${i}`, 0);
}

test('1,000 sessions over 8 relays stay within the load factor (max/mean <= 1.10)', (t) => {
  const b = new ViewerBalancer({ loadFactor: 1.1, sessionTtlMs: 30_000 });
  b.setRelays(relays(8));
  place(b, 1000);
  const loads = [...b.loads().values()];
  const mean = 1000 / 8;
  t.is(loads.length, 8);
  t.is(
    loads.reduce((a, c) => a + c, 0),
    1000,
  );
  t.true(Math.max(...loads) / mean <= 1.1, `max ${Math.max(...loads)} over mean ${mean}`);
});

test('a session keeps its relay while the cluster is stable, and gets every relay in failover order', (t) => {
  const b = new ViewerBalancer({ loadFactor: 1.1, sessionTtlMs: 30_000 });
  b.setRelays(relays(4));
  place(b, 100);
  const first = b.assign('viewer-x', 1);
  t.true(first.created);
  t.is(new Set(first.relayIds).size, 4);
  const again = b.assign('viewer-x', 2);
  t.false(again.created);
  t.deepEqual(again.relayIds, first.relayIds);
  // A new relay joining does not move placed viewers.
  b.setRelays(relays(5));
  t.is(b.assign('viewer-x', 3).relayIds[0], first.relayIds[0]);
});

test('draining relays take no viewers; sessions on a relay that left move to another', (t) => {
  const b = new ViewerBalancer({ loadFactor: 1.1, sessionTtlMs: 30_000 });
  const rs = relays(3);
  b.setRelays(rs);
  place(b, 60);
  const primary = b.assign('s0', 1).relayIds[0]!;
  b.setRelays(rs.map((r) => (r.id === primary ? { ...r, state: 'draining' } : r)));
  const moved = b.assign('s0', 2);
  t.true(moved.created);
  t.not(moved.relayIds[0], primary);
  t.false(moved.relayIds.includes(primary));
  for (let i = 0; i < 50; i++) t.not(b.assign(`new${i}`, 3).relayIds[0], primary);
});

test('sessions not seen within the TTL are forgotten', (t) => {
  const b = new ViewerBalancer({ loadFactor: 1.1, sessionTtlMs: 1000 });
  b.setRelays(relays(2));
  b.assign('old', 0);
  b.assign('fresh', 900);
  t.is(b.expire(1500), 1);
  t.is(b.sessionCount, 1);
  t.is(
    [...b.loads().values()].reduce((a, c) => a + c, 0),
    1,
  );
});

test('capacity weights shares: a relay of capacity 3 takes about three times the sessions', (t) => {
  const b = new ViewerBalancer({ loadFactor: 1.1, sessionTtlMs: 30_000 });
  b.setRelays([
    { id: 'big', url: 'http://a:1', capacity: 3, state: 'active' },
    { id: 'small', url: 'http://b:1', capacity: 1, state: 'active' },
  ]);
  place(b, 400);
  const loads = b.loads();
  t.true(loads.get('big')! <= Math.floor(1.1 * 300));
  t.true(loads.get('small')! <= Math.floor(1.1 * 100));
});

test('no active relay: no assignment', (t) => {
  const b = new ViewerBalancer({ loadFactor: 1.1, sessionTtlMs: 30_000 });
  b.setRelays(relays(2, 'draining'));
  t.deepEqual(b.assign('s', 0).relayIds, []);
});

test('the number of sessions is bounded; sessions past the bound are placed, not remembered', (t) => {
  const b = new ViewerBalancer({ loadFactor: 1.1, sessionTtlMs: 30_000, maxSessions: 10 });
  b.setRelays(relays(2));
  place(b, 25);
  t.is(b.sessionCount, 10);
  t.is(
    [...b.loads().values()].reduce((a, c) => a + c, 0),
    10,
  );
  // A session past the bound still gets relays, but nothing is stored or counted for it.
  const late = b.assign('s24', 1);
  t.is(late.relayIds.length, 2);
  t.false(late.remembered);
  t.false(late.created);
  // The sessions placed first are not pushed out by later ones.
  const first = b.assign('s0', 1);
  t.true(first.remembered);
  t.false(first.created);
  t.is(b.sessionCount, 10);
});

test("a session this coordinator has not placed takes the player's current relay when it is active", (t) => {
  const b = new ViewerBalancer({ loadFactor: 1.1, sessionTtlMs: 30_000 });
  const rs = relays(4);
  b.setRelays(rs);
  // Where this balancer would put the session by itself (a twin with the same state tells).
  const twin = new ViewerBalancer({ loadFactor: 1.1, sessionTtlMs: 30_000 });
  twin.setRelays(rs);
  const natural = twin.assign('elsewhere', 0).relayIds[0]!;
  const other = rs.map((r) => r.id).find((id) => id !== natural)!;
  // The player says it is on `other`: the session takes it. Another coordinator placed it, so it is not
  // counted as placed here.
  const adopted = b.assign('elsewhere', 1, { current: other });
  t.false(adopted.created);
  t.is(adopted.relayIds[0], other);
  t.is(new Set(adopted.relayIds).size, 4);
  t.is(b.loads().get(other), 1);
  // Once placed, the session keeps its relay whatever pathway is reported.
  t.is(b.assign('elsewhere', 2, { current: natural }).relayIds[0], other);
  // An unknown or draining relay is not adopted.
  t.not(b.assign('unknown-pathway', 3, { current: 'relay-99' }).relayIds[0], 'relay-99');
  b.setRelays(rs.map((r) => (r.id === other ? { ...r, state: 'draining' } : r)));
  t.not(b.assign('on-draining', 4, { current: other }).relayIds[0], other);
});
