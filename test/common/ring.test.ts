import test from 'ava';
import { Ring } from '../../common/ring.ts';
import type { RelayInfo } from '../../common/types.ts';

const relay = (i: number, capacity = 1): RelayInfo => ({
  id: `relay-${i}`,
  url: `http://127.0.0.1:${9000 + i}`,
  capacity,
  state: 'active',
});
const keys = Array.from({ length: 5000 }, (_, i) => `demo/720p/${i}.m4s`);

test('every node builds the same ring from the same members, whatever their order', (t) => {
  const members = [1, 2, 3, 4].map((i) => relay(i));
  const a = new Ring({ version: 1, relays: members });
  const b = new Ring({ version: 1, relays: [...members].reverse() });
  for (const k of keys.slice(0, 500)) t.is(a.owner(k)?.id, b.owner(k)?.id);
});

test('keys spread over the relays within 25% of a fair share', (t) => {
  const ring = new Ring({ version: 1, relays: [1, 2, 3, 4].map((i) => relay(i)) });
  const counts = new Map<string, number>();
  for (const k of keys) {
    const id = ring.owner(k)!.id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  t.is(counts.size, 4);
  const fair = keys.length / 4;
  for (const [id, n] of counts) t.true(Math.abs(n - fair) / fair < 0.25, `${id} owns ${n}, fair ${fair}`);
});

test('a join moves about 1/N of the keys, and only onto the new relay', (t) => {
  const before = new Ring({ version: 1, relays: [1, 2, 3, 4].map((i) => relay(i)) });
  const after = new Ring({ version: 2, relays: [1, 2, 3, 4, 5].map((i) => relay(i)) });
  let moved = 0;
  for (const k of keys) {
    const a = before.owner(k)!.id;
    const b = after.owner(k)!.id;
    if (a !== b) {
      moved++;
      t.is(b, 'relay-5');
    }
  }
  t.true(moved / keys.length < 0.3, `moved ${moved}`);
  t.true(moved / keys.length > 0.1, `moved ${moved}`);
});

test('a leave moves only the keys the departed relay owned', (t) => {
  const before = new Ring({ version: 1, relays: [1, 2, 3, 4].map((i) => relay(i)) });
  const after = new Ring({ version: 2, relays: [1, 2, 4].map((i) => relay(i)) });
  for (const k of keys) {
    const a = before.owner(k)!.id;
    if (a !== 'relay-3') t.is(after.owner(k)!.id, a);
  }
});

test('candidates are distinct, owner first, and the next candidate takes over when the owner leaves', (t) => {
  const ring = new Ring({ version: 1, relays: [1, 2, 3, 4].map((i) => relay(i)) });
  for (const k of keys.slice(0, 200)) {
    const c = ring.candidates(k);
    t.is(c.length, 4);
    t.is(new Set(c.map((r) => r.id)).size, 4);
    t.is(c[0]!.id, ring.owner(k)!.id);
    const without = new Ring({ version: 2, relays: ring.relays.filter((r) => r.id !== c[0]!.id) });
    t.is(without.owner(k)!.id, c[1]!.id);
  }
});

test('capacity sets weight: a relay with capacity 2 owns about twice the keys', (t) => {
  const ring = new Ring({ version: 1, relays: [relay(1, 2), relay(2), relay(3)] });
  let big = 0;
  for (const k of keys) if (ring.owner(k)!.id === 'relay-1') big++;
  t.true(big / keys.length > 0.4 && big / keys.length < 0.6, `relay-1 owns ${big}`);
});

test('an empty ring owns nothing', (t) => {
  const ring = new Ring({ version: 0, relays: [] });
  t.is(ring.owner('demo'), undefined);
  t.deepEqual(ring.candidates('demo'), []);
});
