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

/** Each order written as ids: `origin` or a peer's id. */
const cases: { name: string; linkDown: boolean; ring?: RingPosition; order: string[] }[] = [
  { name: 'a hop request goes to the origin only', linkDown: false, order: ['origin'] },
  { name: 'a hop request while the link is down has no source', linkDown: true, order: [] },
  {
    name: 'no ring members: the origin',
    linkDown: false,
    ring: at('a', { candidates: [] }),
    order: ['origin'],
  },
  { name: 'the owner: origin, then the next member', linkDown: false, ring: at('a'), order: ['origin', 'b'] },
  {
    name: 'the owner, link down: the next member first',
    linkDown: true,
    ring: at('a'),
    order: ['b', 'origin'],
  },
  {
    name: 'second member: the owner, then the origin',
    linkDown: false,
    ring: at('b'),
    order: ['a', 'origin'],
  },
  {
    name: 'second member, link down: owner, the member after it, origin',
    linkDown: true,
    ring: at('b'),
    order: ['a', 'c', 'origin'],
  },
  {
    name: 'third member: both before it, then the origin',
    linkDown: false,
    ring: at('c'),
    order: ['a', 'b', 'origin'],
  },
  {
    name: 'fourth member: at most peerAttempts before it',
    linkDown: false,
    ring: at('d'),
    order: ['a', 'b', 'origin'],
  },
  {
    name: 'fourth member, link down: the member after it (not the one between, never asked)',
    linkDown: true,
    ring: at('d'),
    order: ['a', 'b', 'e', 'origin'],
  },
  {
    name: 'not in the candidates: peerAttempts of them, then the origin',
    linkDown: false,
    ring: at('z'),
    order: ['a', 'b', 'origin'],
  },
  {
    name: 'not in the candidates, link down: one more member before the origin',
    linkDown: true,
    ring: at('z'),
    order: ['a', 'b', 'c', 'origin'],
  },
  {
    name: 'a refused owner is skipped',
    linkDown: false,
    ring: at('c', { refused: new Set(['a']) }),
    order: ['b', 'origin'],
  },
  {
    name: 'refused members are skipped as the one after us too',
    linkDown: true,
    ring: at('a', { refused: new Set(['b']) }),
    order: ['c', 'origin'],
  },
  {
    name: 'every other member refused: the origin alone',
    linkDown: true,
    ring: at('a', { refused: new Set(['b', 'c', 'd', 'e']) }),
    order: ['origin'],
  },
  {
    name: 'peerAttempts 0: the origin first',
    linkDown: false,
    ring: at('c', { peerAttempts: 0 }),
    order: ['origin'],
  },
  {
    name: 'peerAttempts 0, link down: the member after us, then the origin',
    linkDown: true,
    ring: at('c', { peerAttempts: 0 }),
    order: ['d', 'origin'],
  },
  {
    name: 'the last member, link down, nobody after it: its peers, then the origin',
    linkDown: true,
    ring: at('e', { peerAttempts: 4 }),
    order: ['a', 'b', 'c', 'd', 'origin'],
  },
];

for (const c of cases) {
  test(`source order: ${c.name}`, (t) => {
    const order = sourceOrder({ originBase: ORIGIN, linkDown: c.linkDown, ring: c.ring });
    t.deepEqual(
      order.map((s) => s.id),
      c.order,
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
