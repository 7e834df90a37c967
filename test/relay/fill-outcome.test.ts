import test from 'ava';
import { RingcastError } from '../../common/errors.ts';
import {
  type AttemptOutcome,
  type FetchLabel,
  type FillStep,
  fetchLabel,
  fillStep,
  type LinkVerdict,
  linkVerdict,
  outcomeError,
} from '../../relay/fill-outcome.ts';

const err = new RingcastError('RC_UPSTREAM_FAILED', 'x');

/** Every outcome: its metric label, the fill's next step, what it says of an origin link, is it an error. */
const cases: [AttemptOutcome, FetchLabel, FillStep, LinkVerdict, boolean][] = [
  [{ kind: 'ok', sha256: 'ab' }, 'ok', 'complete', 'works', false],
  [{ kind: 'notFound' }, 'not_found', 'complete', 'works', false],
  [{ kind: 'answered', err, reason: 'client_error' }, 'client_error', 'fail', 'works', true],
  [{ kind: 'answered', err, reason: 'bad_status' }, 'bad_status', 'fail', 'unknown', true],
  [{ kind: 'refused', err }, 'refused', 'next', 'unknown', true],
  [{ kind: 'rejected', err, reason: 'not_found' }, 'not_found', 'next', 'works', true],
  [{ kind: 'rejected', err, reason: 'client_error' }, 'client_error', 'next', 'works', true],
  [{ kind: 'rejected', err, reason: 'bad_status' }, 'bad_status', 'next', 'unknown', true],
  [{ kind: 'rejected', err, reason: 'mismatch' }, 'mismatch', 'next', 'unknown', true],
  [{ kind: 'failed', err, reason: 'error', midBody: false }, 'error', 'next', 'broken', true],
  [{ kind: 'failed', err, reason: 'timeout', midBody: false }, 'timeout', 'next', 'broken', true],
  [{ kind: 'failed', err, reason: 'error', midBody: true }, 'error', 'fail', 'broken', true],
  [{ kind: 'failed', err, reason: 'timeout', midBody: true }, 'timeout', 'fail', 'broken', true],
  [{ kind: 'givenUp' }, 'given_up', 'origin', 'unknown', false],
];

for (const [outcome, label, step, link, error] of cases) {
  test(`outcome ${JSON.stringify({ ...outcome, err: undefined })}`, (t) => {
    t.is(fetchLabel(outcome), label);
    t.is(fillStep(outcome), step);
    t.is(linkVerdict(outcome), link);
    t.is(outcomeError(outcome), error ? err : undefined);
  });
}

test('every metric label of docs/relay.md is some outcome', (t) => {
  const labels = new Set(cases.map((c) => c[1]));
  for (const l of [
    'ok',
    'not_found',
    'client_error',
    'error',
    'timeout',
    'bad_status',
    'refused',
    'mismatch',
    'given_up',
  ])
    t.true(labels.has(l as FetchLabel), l);
});
