import test from 'ava';
import type { ErrorCode } from '../../common/errors.ts';
import {
  type AttemptOutcome,
  type FetchLabel,
  type FillStep,
  fetchLabel,
  fillStep,
} from '../../relay/fill-outcome.ts';
import { type Answer, answerOutcome, passedOn } from '../../relay/source-attempt.ts';

/** Each non-200 answer: what the fill makes of it (kind, metric label, next step, error code). */
const cases: {
  answer: Partial<Answer> & { status: number };
  kind: AttemptOutcome['kind'] | 'passOn';
  label?: FetchLabel;
  step?: FillStep;
  code?: ErrorCode;
}[] = [
  { answer: { status: 404 }, kind: 'notFound', label: 'not_found', step: 'complete' },
  { answer: { status: 400 }, kind: 'passOn' },
  { answer: { status: 403 }, kind: 'passOn' },
  { answer: { status: 410 }, kind: 'passOn' },
  { answer: { status: 416 }, kind: 'passOn' },
  {
    answer: { status: 401 },
    kind: 'rejected',
    label: 'bad_status',
    step: 'next',
    code: 'RC_UPSTREAM_FAILED',
  },
  {
    answer: { status: 500 },
    kind: 'rejected',
    label: 'bad_status',
    step: 'next',
    code: 'RC_UPSTREAM_FAILED',
  },
  {
    answer: { status: 503 },
    kind: 'rejected',
    label: 'bad_status',
    step: 'next',
    code: 'RC_UPSTREAM_FAILED',
  },
  {
    answer: { status: 503, blocking: true },
    kind: 'answered',
    label: 'bad_status',
    step: 'fail',
    code: 'RC_BLOCKING_TIMEOUT',
  },
  {
    answer: { status: 502, errorCode: 'RC_ORIGIN_LINK_DOWN' },
    kind: 'rejected',
    label: 'bad_status',
    step: 'next',
    code: 'RC_UPSTREAM_FAILED',
  },
  {
    answer: { status: 404, isPeer: true },
    kind: 'rejected',
    label: 'not_found',
    step: 'next',
    code: 'RC_NOT_FOUND',
  },
  {
    answer: { status: 400, isPeer: true },
    kind: 'rejected',
    label: 'client_error',
    step: 'next',
    code: 'RC_UPSTREAM_FAILED',
  },
  {
    answer: { status: 416, isPeer: true },
    kind: 'rejected',
    label: 'client_error',
    step: 'next',
    code: 'RC_UPSTREAM_FAILED',
  },
  {
    answer: { status: 503, isPeer: true, blocking: true },
    kind: 'rejected',
    label: 'bad_status',
    step: 'next',
    code: 'RC_UPSTREAM_FAILED',
  },
  {
    answer: { status: 502, isPeer: true, errorCode: 'RC_ORIGIN_LINK_DOWN' },
    kind: 'refused',
    label: 'refused',
    step: 'next',
    code: 'RC_UPSTREAM_FAILED',
  },
  {
    answer: { status: 502, isPeer: true },
    kind: 'rejected',
    label: 'bad_status',
    step: 'next',
    code: 'RC_UPSTREAM_FAILED',
  },
];

for (const c of cases) {
  test(`answer ${JSON.stringify(c.answer)}: ${c.kind}`, (t) => {
    const answer: Answer = {
      errorCode: undefined,
      isPeer: false,
      sourceId: 'src',
      blocking: false,
      ...c.answer,
    };
    const o = answerOutcome(answer);
    if (o === 'passOn') {
      t.is(c.kind, 'passOn');
      return;
    }
    t.is<string, string>(o.kind, c.kind);
    t.is<string | undefined, string | undefined>(fetchLabel(o), c.label);
    t.is<string | undefined, string | undefined>(fillStep(o), c.step);
    t.is('err' in o ? o.err.code : undefined, c.code);
  });
}

test("an upstream 4xx keeps its own code when known and of the same status, else the status's generic one", (t) => {
  const json = (code: string, message = 'm') => [Buffer.from(JSON.stringify({ error: { code, message } }))];
  const cases: { status: number; header?: string; body: Buffer[]; code: ErrorCode; message: string }[] = [
    { status: 400, body: [], code: 'RC_BAD_REQUEST', message: 'upstream answered HTTP 400' },
    { status: 403, body: [], code: 'RC_UPSTREAM_FORBIDDEN', message: 'upstream answered HTTP 403' },
    { status: 410, body: [], code: 'RC_UPSTREAM_GONE', message: 'upstream answered HTTP 410' },
    { status: 416, body: [], code: 'RC_UPSTREAM_RANGE', message: 'upstream answered HTTP 416' },
    {
      status: 400,
      body: json('RC_BAD_REQUEST', 'too far ahead'),
      code: 'RC_BAD_REQUEST',
      message: 'too far ahead',
    },
    { status: 403, body: json('RC_NO_SUCH_CODE'), code: 'RC_UPSTREAM_FORBIDDEN', message: 'm' },
    { status: 410, body: json('RC_BAD_REQUEST'), code: 'RC_UPSTREAM_GONE', message: 'm' },
    {
      status: 400,
      body: [Buffer.from('{"error":')],
      code: 'RC_BAD_REQUEST',
      message: 'upstream answered HTTP 400',
    },
    {
      status: 400,
      header: 'RC_BAD_REQUEST',
      body: [],
      code: 'RC_BAD_REQUEST',
      message: 'upstream answered HTTP 400',
    },
    {
      status: 400,
      body: json('RC_BAD_REQUEST', 'x'.repeat(300)),
      code: 'RC_BAD_REQUEST',
      message: 'x'.repeat(200),
    },
  ];
  for (const c of cases) {
    const err = passedOn(c.status, c.header, c.body);
    t.is(err.code, c.code, JSON.stringify(c.status));
    t.is(err.message, c.message);
  }
});
