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

/** Every outcome: its metric label, the fill's next step, what it says about an origin link, and whether it is an error. */
const cases: {
  outcome: AttemptOutcome;
  label: FetchLabel;
  step: FillStep;
  link: LinkVerdict;
  error: boolean;
}[] = [
  { outcome: { kind: 'ok', sha256: 'ab' }, label: 'ok', step: 'complete', link: 'works', error: false },
  { outcome: { kind: 'notFound' }, label: 'not_found', step: 'complete', link: 'works', error: false },
  {
    outcome: { kind: 'answered', err, reason: 'client_error' },
    label: 'client_error',
    step: 'fail',
    link: 'works',
    error: true,
  },
  {
    outcome: { kind: 'answered', err, reason: 'bad_status' },
    label: 'bad_status',
    step: 'fail',
    link: 'unknown',
    error: true,
  },
  { outcome: { kind: 'refused', err }, label: 'refused', step: 'next', link: 'unknown', error: true },
  {
    outcome: { kind: 'rejected', err, reason: 'not_found' },
    label: 'not_found',
    step: 'next',
    link: 'works',
    error: true,
  },
  {
    outcome: { kind: 'rejected', err, reason: 'client_error' },
    label: 'client_error',
    step: 'next',
    link: 'works',
    error: true,
  },
  {
    outcome: { kind: 'rejected', err, reason: 'bad_status' },
    label: 'bad_status',
    step: 'next',
    link: 'unknown',
    error: true,
  },
  {
    outcome: { kind: 'rejected', err, reason: 'mismatch' },
    label: 'mismatch',
    step: 'next',
    link: 'unknown',
    error: true,
  },
  {
    outcome: { kind: 'failed', err, reason: 'error', midBody: false },
    label: 'error',
    step: 'next',
    link: 'broken',
    error: true,
  },
  {
    outcome: { kind: 'failed', err, reason: 'timeout', midBody: false },
    label: 'timeout',
    step: 'next',
    link: 'broken',
    error: true,
  },
  {
    outcome: { kind: 'failed', err, reason: 'error', midBody: true },
    label: 'error',
    step: 'fail',
    link: 'broken',
    error: true,
  },
  {
    outcome: { kind: 'failed', err, reason: 'timeout', midBody: true },
    label: 'timeout',
    step: 'fail',
    link: 'broken',
    error: true,
  },
  { outcome: { kind: 'givenUp' }, label: 'given_up', step: 'origin', link: 'unknown', error: false },
];

for (const c of cases) {
  test(`outcome ${JSON.stringify({ ...c.outcome, err: undefined })}`, (t) => {
    t.is(fetchLabel(c.outcome), c.label);
    t.is(fillStep(c.outcome), c.step);
    t.is(linkVerdict(c.outcome), c.link);
    t.is(outcomeError(c.outcome), c.error ? err : undefined);
  });
}

test('every metric label of docs/relay.md is some outcome', (t) => {
  const labels = new Set(cases.map((c) => c.label));
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
