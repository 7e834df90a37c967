import test from 'ava';
import {
  hasReachedOf,
  isNextPartOf,
  lastMsnOf,
  liveEdgeOf,
  type RenditionEdgeView,
  renditionReportOf,
} from '../../origin/ll-hls-edge.ts';
import type { Part, PublishedSegment } from '../../origin/segment-types.ts';

const parts = (n: number): Part[] =>
  Array.from({ length: n }, (_, i) => ({ data: Buffer.alloc(1), duration: 0.2, independent: i === 0 }));
const segment = (msn: number, partCount: number) => ({ msn, parts: parts(partCount) }) as PublishedSegment;
const view = (o: {
  segments?: [number, number][];
  partial?: [number, number];
  ended?: boolean;
  next?: number;
}): RenditionEdgeView => ({
  segments: (o.segments ?? []).map(([msn, n]) => segment(msn, n)),
  partial: o.partial
    ? { msn: o.partial[0], parts: parts(o.partial[1]), programDateTime: new Date(0), discontinuity: false }
    : undefined,
  isEnded: o.ended ?? false,
  nextSequenceNumber: o.next ?? 0,
});

const empty = view({ next: 10 });
const building = view({ segments: [[9, 10]], partial: [10, 3], next: 10 });
const between = view({ segments: [[9, 10]], next: 10 });
const noParts = view({ segments: [[9, 0]], next: 10 });
const ended = view({ segments: [[9, 10]], ended: true, next: 10 });

test('lastMsnOf and liveEdgeOf', (t) => {
  const rows: [RenditionEdgeView | undefined, number, { msn: number; part: number } | undefined][] = [
    [undefined, -1, undefined],
    [empty, -1, undefined],
    [building, 9, { msn: 10, part: 2 }],
    [between, 9, { msn: 9, part: 9 }],
    [noParts, 9, { msn: 9, part: 0 }],
  ];
  for (const [v, last, edge] of rows) {
    t.is(lastMsnOf(v), last);
    t.deepEqual(liveEdgeOf(v), edge);
  }
});

test('isNextPartOf: the preload hint, or the first part of the next segment', (t) => {
  const rows: [RenditionEdgeView | undefined, number, number, boolean][] = [
    [undefined, 10, 0, false],
    [empty, 10, 0, true],
    [empty, 10, 1, false],
    [building, 10, 3, true],
    [building, 10, 2, false],
    [building, 11, 0, true],
    [building, 11, 1, false],
    [between, 10, 0, true],
    [ended, 10, 0, false],
  ];
  for (const [v, msn, index, expected] of rows)
    t.is(isNextPartOf(v, msn, index), expected, `${msn}.${index}`);
});

test('hasReachedOf: a blocking reload is answered once the playlist holds msn (and part)', (t) => {
  const rows: [RenditionEdgeView | undefined, number, number | undefined, boolean][] = [
    [undefined, 99, undefined, true],
    [ended, 99, 0, true],
    [empty, 10, undefined, false],
    [building, 9, undefined, true],
    [building, 10, undefined, false],
    [building, 10, 2, true],
    [building, 10, 3, false],
    [building, 9, 50, true],
    [between, 10, 0, false],
  ];
  for (const [v, msn, part, expected] of rows) t.is(hasReachedOf(v, msn, part), expected, `${msn}.${part}`);
});

test('renditionReportOf: the last part, of the segment being built if there is one', (t) => {
  t.is(renditionReportOf('360p', empty), undefined);
  t.deepEqual(renditionReportOf('360p', building), { uri: '../360p/index.m3u8', lastMsn: 10, lastPart: 2 });
  t.deepEqual(renditionReportOf('360p', between), { uri: '../360p/index.m3u8', lastMsn: 9, lastPart: 9 });
  t.deepEqual(renditionReportOf('360p', noParts), {
    uri: '../360p/index.m3u8',
    lastMsn: 9,
    lastPart: undefined,
  });
});
