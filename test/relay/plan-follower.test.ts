/**
 * relay/plan-follower.ts: the steps a front end is asked to write while an entry fills, as a table of
 * (request, what the fill does) → steps.
 */
import test from 'ava';
import { RingcastError } from '../../common/errors.ts';
import { parseLivePath } from '../../common/names.ts';
import { CacheEntry } from '../../relay/cache-entry.ts';
import { followEntry } from '../../relay/plan-follower.ts';
import { errorPlan, type PlanRequest, planResponse } from '../../relay/response-plan.ts';

const CTX = { relayId: 'r', playlistCacheControl: 'public, max-age=1' };

/** What the fill does next: start (status, length), a chunk, complete, fail, or the client leaves. */
type Step = ['start', number, number | undefined] | ['push', string] | ['complete'] | ['fail'] | ['leave'];

interface Row {
  name: string;
  req: PlanRequest;
  /** Steps before the viewer arrives. */
  before: Step[];
  after: Step[];
  want: string[];
}

const ROWS: Row[] = [
  {
    name: 'pending, then a whole fill: head, bytes as they come, end',
    req: { head: false },
    before: [],
    after: [['start', 200, 2], ['push', 'a'], ['push', 'b'], ['complete']],
    want: ['start 200', 'data a', 'data b', 'end', 'done'],
  },
  {
    name: 'joins while streaming: the bytes so far first',
    req: { head: false },
    before: [
      ['start', 200, undefined],
      ['push', 'a'],
    ],
    after: [['push', 'b'], ['complete']],
    want: ['start 200 chunked', 'data a', 'data b', 'end', 'done'],
  },
  {
    name: 'HEAD while streaming: the head alone, done at once',
    req: { head: true },
    before: [['start', 200, 2]],
    after: [['push', 'a'], ['complete']],
    want: ['start 200', 'done'],
  },
  {
    name: 'a Range waits for the whole object: one 206',
    req: { head: false, range: 'bytes=0-0' },
    before: [],
    after: [['start', 200, 2], ['push', 'a'], ['push', 'b'], ['complete']],
    want: ['answer 206', 'done'],
  },
  {
    name: 'an upstream 404: answered as an error once complete',
    req: { head: false },
    before: [],
    after: [['start', 404, 0], ['complete']],
    want: ['answer 404', 'done'],
  },
  {
    name: 'a fill failing before the head: its error',
    req: { head: false },
    before: [],
    after: [['fail']],
    want: ['answer 504', 'done'],
  },
  {
    name: 'a fill failing after the head: cut, never a short 200',
    req: { head: false },
    before: [],
    after: [['start', 200, 2], ['push', 'a'], ['fail']],
    want: ['start 200', 'data a', 'cut', 'done'],
  },
  {
    name: 'a viewer that leaves is followed no further',
    req: { head: false },
    before: [],
    after: [['start', 200, 2], ['leave'], ['push', 'a'], ['complete']],
    want: ['start 200'],
  },
];

function apply(entry: CacheEntry, step: Step, stop: () => void): void {
  if (step[0] === 'start') entry.start(step[1], step[2]);
  else if (step[0] === 'push') entry.push(Buffer.from(step[1]));
  else if (step[0] === 'complete') entry.complete('ab'.repeat(32));
  else if (step[0] === 'fail') entry.fail(new RingcastError('RC_UPSTREAM_TIMEOUT'));
  else stop();
}

for (const row of ROWS) {
  test(`follow: ${row.name}`, (t) => {
    const entry = new CacheEntry('demo/720p/1.m4s', parseLivePath('/live/demo/720p/1.m4s'));
    for (const step of row.before) apply(entry, step, () => {});
    const got: string[] = [];
    const plan = () => planResponse(row.req, entry, 'MISS', 0, CTX);
    const stop = followEntry(
      {
        entry,
        plan,
        planError: (err) => errorPlan(err, CTX.relayId),
        answer: (p) => got.push(`answer ${p.status}`),
        start: (p) => got.push(`start ${p.status}${p.chunked ? ' chunked' : ''}`),
        data: (chunk) => got.push(`data ${chunk}`),
        end: () => got.push('end'),
        cut: () => got.push('cut'),
        done: () => got.push('done'),
      },
      plan(),
    );
    for (const step of row.after) apply(entry, step, stop);
    t.deepEqual(got, row.want);
  });
}
