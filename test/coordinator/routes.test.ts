import test from 'ava';
import { rawRequest, SECRET, startCoordinator } from './helpers.ts';

/**
 * Status, error code, then the requests (method and raw path) that get them: what the hand-made router
 * answered too (this table passed on it before the move to express).
 */
const expected: [number, string | undefined, string[]][] = [
  [200, undefined, ['GET /', 'HEAD /', 'HEAD /api/v1/ring', 'HEAD /healthz']],
  [
    405,
    'RC_METHOD_NOT_ALLOWED',
    [
      'POST /',
      'OPTIONS /live/demo/master.m3u8',
      'PUT /api/v1/relays/bad.id',
      'GET /api/v1/relays',
      'POST /player/index.html',
    ],
  ],
  [404, 'RC_NOT_FOUND', ['GET /API/v1/ring', 'GET /api/v1/ring/']],
  [400, 'RC_BAD_PATH', ['GET /api/v1/streams/%zz', 'GET /player//x.js', 'GET /player/%zz.js', 'GET *']],
];

test('the coordinator routes: status and error code per method and raw path', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());
  for (const [status, code, requests] of expected) {
    for (const call of requests) {
      const [method, path] = call.split(' ') as [string, string];
      const res = await rawRequest(c.url, method, path);
      t.is(res.status, status, call);
      t.is(res.body?.error?.code, code, call);
      t.false('etag' in res.headers || 'x-powered-by' in res.headers, call);
    }
  }
});

test('HEAD of an event stream is headers only; a redirect keeps the query; an over-large body closes', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());
  const headers = { authorization: `Bearer ${SECRET}`, connection: 'close' };
  for (const path of ['/api/v1/events', '/api/v1/dashboard/events']) {
    const head = await rawRequest(c.url, 'HEAD', path, { headers });
    t.is(head.status, 200, path);
    t.is(head.headers['content-type'], 'text/event-stream');
  }
  const moved = await rawRequest(c.url, 'GET', '/player?stream=demo&session=a%20b');
  t.is(moved.status, 301);
  t.is(moved.headers.location, '/player/?stream=demo&session=a+b');
  const body = JSON.stringify({ pad: 'x'.repeat(70_000) });
  const big = await rawRequest(c.url, 'POST', '/api/v1/relays', { headers, body }).catch(() => undefined);
  // The client may see the close before the answer; when it sees the answer, it says close.
  if (big) {
    t.is(big.status, 413);
    t.is(big.headers.connection, 'close');
    t.is(big.body.error.code, 'RC_BODY_TOO_LARGE');
  }
});
