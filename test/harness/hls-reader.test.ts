import test from 'ava';
import { joinMsn } from '../../harness/hls-reader.ts';

test('joinMsn: two segments behind the newest, never before the playlist starts', (t) => {
  const cases: [number | undefined, number | undefined, number][] = [
    [100, 105, 103],
    [100, 101, 100],
    [100, 100, 100],
    [undefined, 5, 3],
    [undefined, undefined, 0],
    [7, undefined, 7],
  ];
  for (const [base, newest, want] of cases) t.is(joinMsn(base, newest), want, `${base} ${newest}`);
});
