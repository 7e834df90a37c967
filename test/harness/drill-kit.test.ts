import test from 'ava';
import { drillTable, originRatio, sumViewers } from '../../harness/drill-kit.ts';

test("originRatio: the relays' origin requests per published segment, the drills' own reads taken out", (t) => {
  const at = (published: number, requested: number) => ({ published, requested });
  const cases: [ReturnType<typeof at>, ReturnType<typeof at>, number, number][] = [
    [at(10, 20), at(20, 30), 0, 1],
    [at(10, 20), at(20, 32), 2, 1],
    [at(10, 20), at(14, 22), 0, 0.5],
    [at(10, 20), at(10, 25), 0, 0],
  ];
  for (const [before, after, checks, want] of cases)
    t.is(originRatio(before, after, checks), want, JSON.stringify({ before, after, checks }));
});

test('sumViewers and drillTable', (t) => {
  const viewers = sumViewers([
    { segments: 5, errors: 1, stalls: 0, stallMs: 0 },
    { segments: 3, errors: 0, stalls: 1, stallMs: 1500, lastError: 'GET x: 502' },
  ]);
  t.deepEqual(viewers, {
    viewers: 2,
    segments: 8,
    failedRequests: 1,
    stalls: 1,
    stallMs: 1500,
    minSegments: 3,
    lastError: 'GET x: 502',
  });
  const table = drillTable([
    { drill: 'relay killed', viewers, recoveryMs: 2500, originRatio: 1.25, published: 8, notes: [] },
  ]).split('\n');
  t.is(table.length, 3);
  t.is(table[2], '| relay killed | 2 | 8 | 1 | 1 (1.5 s) | 2.5 s | 1.25 |');
});
