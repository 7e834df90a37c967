import test from 'ava';
import { baseOf, type RingPosition, sourceOrder } from '../../relay/source-order.ts';

const ORIGIN = 'http://origin:9000';
const member = (id: string) => ({ id, url: `http://${id}:8080/` });
/** The key's ring order in these cases: a (owner), b, c, d, e. */
const RING = ['a', 'b', 'c', 'd', 'e'].map(member);

/** A relay's view of the ring around the key. */
const at = (self: string, over: Partial<RingPosition> = {}): RingPosition => ({
  self,
  candidates: RING,
  peerAttempts: 2,
  refused: new Set(),
  ...over,
});

/** Each case: what it shows, link down, the ring around the key (none: a hop request), the order as ids. */
const cases: [string, boolean, RingPosition | undefined, string][] = [
  ['a hop request goes to the origin only', false, undefined, 'origin'],
  ['a hop request while the link is down has no source', true, undefined, ''],
  ['no ring members: the origin', false, at('a', { candidates: [] }), 'origin'],
  ['the owner: origin, then the next member', false, at('a'), 'origin b'],
  ['the owner, link down: the next member first', true, at('a'), 'b origin'],
  ['second member: the owner, then the origin', false, at('b'), 'a origin'],
  ['second member, link down: owner, the member after it, origin', true, at('b'), 'a c origin'],
  ['third member: both before it, then the origin', false, at('c'), 'a b origin'],
  ['fourth member: at most peerAttempts before it', false, at('d'), 'a b origin'],
  // c is between the members asked and this relay: never asked.
  ['fourth member, link down: the member after it', true, at('d'), 'a b e origin'],
  ['not a candidate: peerAttempts of them, then the origin', false, at('z'), 'a b origin'],
  ['not a candidate, link down: one more before the origin', true, at('z'), 'a b c origin'],
  ['a refused owner is skipped', false, at('c', { refused: new Set(['a']) }), 'b origin'],
  ['a refused member is not the one after us', true, at('a', { refused: new Set(['b']) }), 'c origin'],
  ['every other member refused: the origin alone', true, at('a', { refused: new Set('bcde') }), 'origin'],
  ['peerAttempts 0: the origin first', false, at('c', { peerAttempts: 0 }), 'origin'],
  ['peerAttempts 0, link down: the member after us, origin', true, at('c', { peerAttempts: 0 }), 'd origin'],
  [
    'the last member, link down: its peers, then the origin',
    true,
    at('e', { peerAttempts: 4 }),
    'a b c d origin',
  ],
];

for (const [name, linkDown, ring, ids] of cases) {
  test(`source order: ${name}`, (t) => {
    const order = sourceOrder({ originBase: ORIGIN, linkDown, ring });
    t.deepEqual(
      order.map((s) => s.id),
      ids.split(' ').filter(Boolean),
    );
    for (const s of order) {
      t.is(s.kind, s.id === 'origin' ? 'origin' : 'peer');
      t.is(s.base, s.kind === 'origin' ? ORIGIN : `http://${s.id}:8080`);
    }
  });
}

test('base URLs lose their trailing slashes only', (t) => {
  for (const [url, base] of [
    ['http://h:1', 'http://h:1'],
    ['http://h:1/', 'http://h:1'],
    ['http://h:1///', 'http://h:1'],
    ['http://h:1/o/', 'http://h:1/o'],
  ] as const)
    t.is(baseOf(url), base, url);
});
