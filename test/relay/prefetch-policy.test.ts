import test from 'ava';
import type { SegmentAnnouncement } from '../../common/types.ts';
import {
  announcedPath,
  type CachedState,
  cachedState,
  type PrefetchAction,
  type PrefetchFacts,
  prefetchAction,
} from '../../relay/prefetch-policy.ts';

const base: PrefetchFacts = { streamKnown: true, cached: 'none', ownerId: 'b', selfId: 'a', watching: false };

const cases: [string, Partial<PrefetchFacts>, PrefetchAction][] = [
  ['unknown stream: nothing, even for the owner', { streamKnown: false, ownerId: 'a' }, { kind: 'ignore' }],
  [
    'unknown stream: a kept 404 stays',
    { streamKnown: false, cached: 'kept-404', ownerId: 'a' },
    { kind: 'ignore' },
  ],
  ['held by the owner: nothing', { cached: 'held', ownerId: 'a' }, { kind: 'ignore' }],
  ['held with viewers: nothing', { cached: 'held', watching: true }, { kind: 'ignore' }],
  ['owner: from the origin', { ownerId: 'a' }, { kind: 'prefetch', source: 'origin', forget404: false }],
  [
    'owner with viewers: still the origin',
    { ownerId: 'a', watching: true },
    { kind: 'prefetch', source: 'origin', forget404: false },
  ],
  [
    'not owner, viewers: from the ring',
    { watching: true },
    { kind: 'prefetch', source: 'peer', forget404: false },
  ],
  ['not owner, no viewers: nothing', {}, { kind: 'ignore' }],
  ['empty ring, no viewers: nothing', { ownerId: undefined }, { kind: 'ignore' }],
  [
    'empty ring, viewers: from the ring (the fill finds the origin)',
    { ownerId: undefined, watching: true },
    { kind: 'prefetch', source: 'peer', forget404: false },
  ],
  [
    'kept 404, owner: dropped and fetched',
    { cached: 'kept-404', ownerId: 'a' },
    { kind: 'prefetch', source: 'origin', forget404: true },
  ],
  [
    'kept 404, viewers: dropped and fetched',
    { cached: 'kept-404', watching: true },
    { kind: 'prefetch', source: 'peer', forget404: true },
  ],
  ['kept 404, not ours, no viewers: dropped only', { cached: 'kept-404' }, { kind: 'forget-404' }],
  ['self id not yet known (before start) is no owner', { selfId: '', ownerId: 'b' }, { kind: 'ignore' }],
];

for (const [name, facts, want] of cases) {
  test(`prefetchAction: ${name}`, (t) => {
    t.deepEqual(prefetchAction({ ...base, ...facts }), want);
  });
}

const states: [string, { state: string; status: number } | undefined, CachedState][] = [
  ['no entry', undefined, 'none'],
  ['a complete 404', { state: 'complete', status: 404 }, 'kept-404'],
  ['a complete segment', { state: 'complete', status: 200 }, 'held'],
  ['a fill running', { state: 'pending', status: 200 }, 'held'],
  ['a fill running that will be a 404', { state: 'pending', status: 404 }, 'held'],
];

for (const [name, entry, want] of states) {
  test(`cachedState: ${name}`, (t) => {
    t.is(cachedState(entry), want);
  });
}

const seg = (streamId: string, rendition: string, file: string): SegmentAnnouncement => ({
  streamId,
  rendition,
  file,
  msn: 1,
  size: 1,
  sha256: '0'.repeat(64),
  duration: 2,
  programDateTime: new Date(0).toISOString(),
});

const paths: [string, SegmentAnnouncement, string | undefined][] = [
  ['a segment', seg('demo', '720p', '1764769000.m4s'), 'demo/720p/1764769000.m4s'],
  ['an init section', seg('demo', '720p', 'init-0123abcd.mp4'), 'demo/720p/init-0123abcd.mp4'],
  ['a traversal in the file', seg('demo', '720p', '../../etc/passwd'), undefined],
  ['a bad stream id', seg('de mo', '720p', '1.m4s'), undefined],
  ['an unknown extension', seg('demo', '720p', '1.exe'), undefined],
];

for (const [name, announcement, want] of paths) {
  test(`announcedPath: ${name}`, (t) => {
    t.is(announcedPath(announcement)?.relPath, want);
  });
}
