import test from 'ava';
import { RingcastError } from '../../common/errors.ts';
import {
  type BlockingRequest,
  parseBlockingRequest,
  parseSkip,
  partsAhead,
} from '../../origin/ll-hls-reads.ts';

const q = (text: string) => new URLSearchParams(text);

test('parseBlockingRequest: whole numbers, part only with msn, else RC_BAD_REQUEST', (t) => {
  const rows: [string, BlockingRequest | undefined | 'bad'][] = [
    ['', undefined],
    ['_HLS_skip=YES', undefined],
    ['_HLS_msn=12', { msn: 12, part: undefined }],
    ['_HLS_msn=12&_HLS_part=0', { msn: 12, part: 0 }],
    ['_HLS_part=1', 'bad'],
    ['_HLS_msn=-1', 'bad'],
    ['_HLS_msn=1.5', 'bad'],
    ['_HLS_msn=12345678901', 'bad'],
    ['_HLS_msn=1&_HLS_part=1234567', 'bad'],
    ['_HLS_msn=1&_HLS_part=x', 'bad'],
  ];
  for (const [text, expected] of rows) {
    if (expected === 'bad') {
      const err = t.throws(() => parseBlockingRequest(q(text)), { instanceOf: RingcastError }, text);
      t.is((err as RingcastError).code, 'RC_BAD_REQUEST');
    } else t.deepEqual(parseBlockingRequest(q(text)), expected, text);
  }
});

test('parseSkip: YES or v2 ask for a delta update; any other value is RC_BAD_REQUEST', (t) => {
  t.false(parseSkip(q('')));
  t.false(parseSkip(q('_HLS_msn=1')));
  t.true(parseSkip(q('_HLS_skip=YES')));
  t.true(parseSkip(q('_HLS_skip=v2')));
  for (const bad of ['_HLS_skip=', '_HLS_skip=yes', '_HLS_skip=NO'])
    t.throws(() => parseSkip(q(bad)), { instanceOf: RingcastError }, bad);
});

test('partsAhead: parts past the live edge, a segment counting its parts', (t) => {
  const rows: [{ msn: number; part: number } | undefined, { msn: number; part: number }, number, number][] = [
    [undefined, { msn: 99, part: 9 }, 10, 0],
    [{ msn: 10, part: 2 }, { msn: 10, part: 3 }, 10, 1],
    [{ msn: 10, part: 2 }, { msn: 10, part: 2 }, 10, 0],
    [{ msn: 10, part: 2 }, { msn: 11, part: 0 }, 10, 8],
    [{ msn: 10, part: 9 }, { msn: 9, part: 0 }, 10, -19],
  ];
  for (const [edge, want, perSegment, expected] of rows) t.is(partsAhead(edge, want, perSegment), expected);
});
