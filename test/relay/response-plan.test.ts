/**
 * relay/response-plan.ts: the one decision behind every relay answer, as a table of (request, entry
 * state, cache result) → status, headers, body slice, streaming; and the error plan both front ends write.
 */
import test from 'ava';
import { ERROR_CODES, type ErrorCode, RingcastError } from '../../common/errors.ts';
import { parseLivePath } from '../../common/names.ts';
import { CacheEntry } from '../../relay/cache-entry.ts';
import {
  type CacheResult,
  errorPlan,
  type PlanContext,
  type PlanRequest,
  planResponse,
  type ResponsePlan,
  serializeHead,
} from '../../relay/response-plan.ts';

const NOW = 1_800_000_000_000;
const CTX: PlanContext = { relayId: 'relay-a', playlistCacheControl: 'public, max-age=1' };
const SHA = 'ab'.repeat(32);
const ETAG = `"${SHA.slice(0, 32)}"`;
const BODY = Buffer.alloc(100, 1);
const SEGMENT = '/live/demo/720p/5.m4s';
const PLAYLIST = '/live/demo/720p/index.m3u8';

type State =
  | 'complete'
  | 'complete-404'
  | 'failed'
  | 'pending'
  | 'streaming'
  | 'streaming-unknown-length'
  | 'streaming-404';

/** An entry of `path` in `state`; complete ones finished 3.5 s before NOW. */
function entryIn(state: State, path = SEGMENT): CacheEntry {
  const entry = new CacheEntry(path.slice(6), parseLivePath(path));
  if (state === 'pending') return entry;
  if (state === 'failed') {
    entry.fail(new RingcastError('RC_UPSTREAM_TIMEOUT'));
    return entry;
  }
  const status = state.endsWith('404') ? 404 : 200;
  entry.start(status, state === 'streaming-unknown-length' ? undefined : status === 200 ? BODY.length : 0);
  if (state.startsWith('streaming')) return entry;
  if (status === 200) entry.push(BODY);
  entry.complete(SHA);
  entry.completedAt = NOW - 3500;
  return entry;
}

/** The fields of a plan a row checks (headers as a Map; undefined ones absent). */
interface Expected {
  kind: ResponsePlan['kind'];
  status?: number;
  body?: { start: number; end: number } | boolean;
  age?: number;
  chunked?: boolean;
  /** Headers that must have these values (undefined: must be absent). */
  headers?: Record<string, string | undefined>;
  code?: string;
}

interface Row {
  name: string;
  req: PlanRequest;
  state: State;
  path?: string;
  result?: CacheResult;
  expect: Expected;
}

const GET: PlanRequest = { head: false };
const HEAD: PlanRequest = { head: true };
const range = (r: string, head = false): PlanRequest => ({ head, range: r });
const inm = (v: string): PlanRequest => ({ head: false, ifNoneMatch: v });

const ROWS: Row[] = [
  {
    name: 'GET complete segment: 200 whole, immutable, no Age',
    req: GET,
    state: 'complete',
    expect: {
      kind: 'send',
      status: 200,
      body: { start: 0, end: 100 },
      headers: {
        'content-length': '100',
        etag: ETAG,
        'cache-control': 'public, max-age=31536000, immutable',
        age: undefined,
      },
    },
  },
  {
    name: 'HEAD complete segment: the GET headers, no body',
    req: HEAD,
    state: 'complete',
    expect: { kind: 'send', status: 200, body: undefined, headers: { 'content-length': '100' } },
  },
  {
    name: 'GET complete playlist: Age in whole seconds since completion',
    req: GET,
    state: 'complete',
    path: PLAYLIST,
    expect: { kind: 'send', status: 200, age: 3, headers: { 'cache-control': 'public, max-age=1' } },
  },
  {
    name: 'MISS result is named in X-Ringcast-Cache',
    req: GET,
    state: 'complete',
    result: 'MISS',
    expect: {
      kind: 'send',
      status: 200,
      headers: { 'x-ringcast-cache': 'MISS', 'x-ringcast-relay': 'relay-a' },
    },
  },
  {
    name: 'If-None-Match matching: 304 without length or type',
    req: inm(ETAG),
    state: 'complete',
    path: PLAYLIST,
    expect: {
      kind: 'send',
      status: 304,
      body: undefined,
      age: undefined,
      headers: { 'content-length': undefined, 'content-type': undefined, etag: ETAG },
    },
  },
  {
    name: 'If-None-Match weak and listed: 304',
    req: inm(`"x", W/${ETAG}`),
    state: 'complete',
    expect: { kind: 'send', status: 304 },
  },
  { name: 'If-None-Match *: 304', req: inm('*'), state: 'complete', expect: { kind: 'send', status: 304 } },
  {
    name: 'If-None-Match not matching: 200 whole',
    req: inm('"other"'),
    state: 'complete',
    expect: { kind: 'send', status: 200, body: { start: 0, end: 100 } },
  },
  {
    name: 'Range bytes=10-19: 206 of 10 bytes',
    req: range('bytes=10-19'),
    state: 'complete',
    expect: {
      kind: 'send',
      status: 206,
      body: { start: 10, end: 20 },
      headers: { 'content-length': '10', 'content-range': 'bytes 10-19/100' },
    },
  },
  {
    name: 'Range suffix bytes=-5: the last 5',
    req: range('bytes=-5'),
    state: 'complete',
    expect: {
      kind: 'send',
      status: 206,
      body: { start: 95, end: 100 },
      headers: { 'content-range': 'bytes 95-99/100' },
    },
  },
  {
    name: 'Range past the end is clipped',
    req: range('bytes=90-500'),
    state: 'complete',
    expect: { kind: 'send', status: 206, body: { start: 90, end: 100 }, headers: { 'content-length': '10' } },
  },
  {
    name: 'Range on a playlist: 206 without Age',
    req: range('bytes=0-0'),
    state: 'complete',
    path: PLAYLIST,
    expect: { kind: 'send', status: 206, age: undefined },
  },
  {
    name: 'HEAD with a Range: 206 head, no body',
    req: range('bytes=0-9', true),
    state: 'complete',
    expect: { kind: 'send', status: 206, body: undefined, headers: { 'content-length': '10' } },
  },
  {
    name: 'Range starting at the size: 416 with bytes */size',
    req: range('bytes=100-'),
    state: 'complete',
    expect: {
      kind: 'send',
      status: 416,
      body: undefined,
      headers: { 'content-length': '0', 'content-range': 'bytes */100' },
    },
  },
  {
    name: 'Range bytes=-0: 416',
    req: range('bytes=-0'),
    state: 'complete',
    expect: { kind: 'send', status: 416 },
  },
  {
    name: 'multi-range is ignored: 200 whole',
    req: range('bytes=0-1,5-6'),
    state: 'complete',
    expect: {
      kind: 'send',
      status: 200,
      body: { start: 0, end: 100 },
      headers: { 'content-range': undefined },
    },
  },
  {
    name: 'If-None-Match wins over Range',
    req: { head: false, range: 'bytes=0-9', ifNoneMatch: ETAG },
    state: 'complete',
    expect: { kind: 'send', status: 304 },
  },
  {
    name: 'complete 404 (kept negative entry): RC_NOT_FOUND',
    req: GET,
    state: 'complete-404',
    expect: { kind: 'error', status: 404, code: 'RC_NOT_FOUND' },
  },
  {
    name: 'failed fill: its error',
    req: GET,
    state: 'failed',
    expect: { kind: 'error', status: 504, code: 'RC_UPSTREAM_TIMEOUT' },
  },
  { name: 'pending: wait for the status', req: GET, state: 'pending', expect: { kind: 'wait' } },
  {
    name: 'streaming with a declared length: cut-through with Content-Length, no ETag',
    req: GET,
    state: 'streaming',
    result: 'MISS',
    expect: {
      kind: 'stream',
      status: 200,
      chunked: false,
      body: true,
      headers: { 'content-length': '100', etag: undefined, 'x-ringcast-cache': 'MISS' },
    },
  },
  {
    name: 'streaming without a length: chunked',
    req: GET,
    state: 'streaming-unknown-length',
    expect: { kind: 'stream', chunked: true, body: true, headers: { 'content-length': undefined } },
  },
  {
    name: 'HEAD while streaming without a length: the head alone, not chunked',
    req: HEAD,
    state: 'streaming-unknown-length',
    expect: { kind: 'stream', chunked: false, body: false },
  },
  {
    name: 'streaming playlist: Age 0',
    req: GET,
    state: 'streaming',
    path: PLAYLIST,
    expect: { kind: 'stream', age: 0 },
  },
  {
    name: 'streaming with a Range: wait for the whole object',
    req: range('bytes=0-9'),
    state: 'streaming',
    expect: { kind: 'wait' },
  },
  {
    name: 'streaming with If-None-Match: wait',
    req: inm(ETAG),
    state: 'streaming',
    expect: { kind: 'wait' },
  },
  {
    name: 'streaming a 404: wait, answered once complete',
    req: GET,
    state: 'streaming-404',
    expect: { kind: 'wait' },
  },
];

/** The plan's headers as a Map (each name once: the planner never repeats one). */
function headerMap(headers: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < headers.length; i += 2) m.set(headers[i]!, headers[i + 1]!);
  return m;
}

for (const row of ROWS) {
  test(`plan: ${row.name}`, (t) => {
    const entry = entryIn(row.state, row.path);
    const plan = planResponse(row.req, entry, row.result ?? 'HIT', NOW, CTX);
    const { expect } = row;
    t.is(plan.kind, expect.kind);
    if (plan.kind === 'wait') return;
    if (expect.status !== undefined) t.is(plan.status, expect.status);
    const headers = headerMap(plan.headers);
    t.is(headers.size * 2, plan.headers.length, 'no header twice');
    for (const [name, value] of Object.entries(expect.headers ?? {})) t.is(headers.get(name), value, name);
    if (plan.kind === 'error') {
      t.is(plan.code as string | undefined, expect.code);
      return;
    }
    if ('body' in expect) t.deepEqual(plan.body, expect.body);
    if ('age' in expect) t.is(plan.age, expect.age);
    if (plan.kind === 'stream' && expect.chunked !== undefined) t.is(plan.chunked, expect.chunked);
    t.is(headers.get('access-control-allow-origin'), '*');
  });
}

test('plan: a 200 on a complete entry shares the entry prebuilt headers, once per cache result', (t) => {
  const entry = entryIn('complete');
  const a = planResponse(GET, entry, 'HIT', NOW, CTX);
  const b = planResponse(HEAD, entry, 'HIT', NOW + 5000, CTX);
  const c = planResponse(GET, entry, 'MISS', NOW, CTX);
  t.true(a.kind === 'send' && b.kind === 'send' && a.headers === b.headers);
  t.true(a.kind === 'send' && c.kind === 'send' && a.headers !== c.headers);
});

test('plan: the error plan carries the code, the relay, CORS and a JSON body of its length', (t) => {
  const plan = errorPlan(new RingcastError('RC_STREAM_NOT_FOUND', 'stream x is not known'), 'relay-b');
  t.is(plan.status, 404);
  t.is(plan.code, 'RC_STREAM_NOT_FOUND');
  const h = headerMap(plan.headers);
  t.is(h.get('x-ringcast-relay'), 'relay-b');
  t.is(h.get('x-ringcast-error'), 'RC_STREAM_NOT_FOUND');
  t.is(h.get('access-control-allow-origin'), '*');
  t.is(h.get('cache-control'), 'no-store');
  t.is(h.get('content-length'), String(Buffer.byteLength(plan.body)));
  t.deepEqual(JSON.parse(plan.body), {
    error: { code: 'RC_STREAM_NOT_FOUND', message: 'stream x is not known' },
  });
  t.is(errorPlan(new Error('boom'), 'r').code, 'RC_INTERNAL');
});

test('plan: an upstream failure or internal error tells the viewer its code, never the detail', (t) => {
  const rows: [unknown, string][] = [
    [
      new RingcastError('RC_UPSTREAM_FAILED', 'upstream: connect ECONNREFUSED 10.0.0.5:8081'),
      'RC_UPSTREAM_FAILED',
    ],
    [
      new RingcastError('RC_UPSTREAM_TIMEOUT', 'no first byte from http://10.0.0.5:8081 in 2000 ms'),
      'RC_UPSTREAM_TIMEOUT',
    ],
    [new Error('EMFILE: too many open files, /srv/ringcast'), 'RC_INTERNAL'],
  ];
  for (const [err, code] of rows) {
    const plan = errorPlan(err, 'r');
    t.is(plan.code, code);
    t.notRegex(plan.body, /10\.0\.0\.5|EMFILE|ringcast/);
    t.is(JSON.parse(plan.body).error.message, ERROR_CODES[code as ErrorCode].message);
  }
});

test('serializeHead: status line, one line per header, extra lines, blank line', (t) => {
  const rows: [number, string[], string, string][] = [
    [200, ['a', '1'], '', 'HTTP/1.1 200 OK\r\na: 1\r\n\r\n'],
    [
      206,
      ['a', '1', 'b', '2'],
      'age: 3\r\n',
      'HTTP/1.1 206 Partial Content\r\na: 1\r\nb: 2\r\nage: 3\r\n\r\n',
    ],
    [416, [], '', 'HTTP/1.1 416 Range Not Satisfiable\r\n\r\n'],
  ];
  for (const [status, headers, extra, want] of rows) t.is(serializeHead(status, headers, extra), want);
});
