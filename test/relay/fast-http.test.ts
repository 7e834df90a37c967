/**
 * The relay's raw-socket fast path (relay/fast-http.ts) answering by itself: misses cut through, hits,
 * pipelining, ranges and If-None-Match, HEAD, and headers as Node's path sends them.
 */
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { req, setup } from './fast-kit.ts';
import { get } from './helpers.ts';

test('plain keep-alive GETs are answered by the fast path: miss cut-through, then hits, no hand-off', async (t) => {
  const s = await setup(t);
  const c = s.client();
  c.send(req('/live/demo/720p/1.m4s'));
  const miss = await c.response();
  t.is(miss.status, 200);
  t.is(miss.headers.get('x-ringcast-cache'), 'MISS');
  t.deepEqual(miss.body, s.body);
  for (let i = 0; i < 3; i++) {
    c.send(req('/live/demo/720p/1.m4s'));
    const hit = await c.response();
    t.is(hit.headers.get('x-ringcast-cache'), 'HIT');
    t.is(hit.headers.get('x-ringcast-relay'), s.id);
    t.is(hit.headers.get('connection'), 'keep-alive');
    t.regex(hit.headers.get('date') ?? '', /GMT$/);
    // The fast path writes header names in lower case; Node's http writes `Date`, `Connection`.
    t.true(hit.names.includes('date') && hit.names.includes('connection'));
    t.deepEqual(hit.body, s.body);
  }
  t.is(s.origin.count('demo/720p/1.m4s'), 1);
  t.is(await s.handOffs(), 0);
  t.false(c.closed);
});

test('pipelined requests: fast, then one for Node (OPTIONS), then more: all answered, in order', async (t) => {
  const s = await setup(t);
  await get(`${s.url}/live/demo/720p/1.m4s`);
  const c = s.client();
  c.send(
    req('/live/demo/720p/1.m4s') +
      req('/live/demo/720p/1.m4s').replace('GET', 'OPTIONS') +
      req('/live/demo/720p/1.m4s') +
      req('/live/demo/720p/404.m4s'),
  );
  const first = await c.response();
  t.is(first.status, 200);
  t.deepEqual(first.body, s.body);
  const preflight = await c.response();
  t.is(preflight.status, 204);
  t.is(preflight.headers.get('access-control-allow-origin'), '*');
  const third = await c.response();
  t.is(third.status, 200);
  t.deepEqual(third.body, s.body);
  const missing = await c.response();
  t.is(missing.status, 404);
  t.is(JSON.parse(missing.body.toString()).error.code, 'RC_NOT_FOUND');
  t.is(await s.handOffs(), 1);
});

test('ranges and If-None-Match are answered on the fast path, as Node answers them', async (t) => {
  const s = await setup(t);
  const c = s.client();
  // The first one waits for the whole object (a range needs its length), the rest are hits.
  c.send(
    req('/live/demo/720p/1.m4s', 'Range: bytes=10-19\r\n') +
      req('/live/demo/720p/1.m4s', 'Range: bytes=-5\r\n') +
      req('/live/demo/720p/1.m4s', 'Range: bytes=999999-\r\n') +
      req('/live/demo/720p/1.m4s', 'Range: bytes=0-1,5-6\r\n'),
  );
  const ranged = await c.response();
  t.is(ranged.status, 206);
  t.is(ranged.headers.get('content-range'), `bytes 10-19/${s.body.length}`);
  t.deepEqual(ranged.body, s.body.subarray(10, 20));
  const suffix = await c.response();
  t.is(suffix.status, 206);
  t.deepEqual(suffix.body, s.body.subarray(-5));
  const unsatisfiable = await c.response();
  t.is(unsatisfiable.status, 416);
  t.is(unsatisfiable.headers.get('content-range'), `bytes */${s.body.length}`);
  const several = await c.response();
  t.is(several.status, 200);
  t.deepEqual(several.body, s.body);
  const etag = several.headers.get('etag')!;
  c.send(
    req('/live/demo/720p/1.m4s', `If-None-Match: ${etag}\r\n`) +
      req('/live/demo/720p/1.m4s', 'If-None-Match: "other"\r\n'),
  );
  const notModified = await c.response();
  t.is(notModified.status, 304);
  t.is(notModified.headers.get('etag'), etag);
  t.false(notModified.headers.has('content-type'));
  const changed = await c.response();
  t.is(changed.status, 200);
  t.deepEqual(changed.body, s.body);
  // The same answers from Node's http (Connection: close sends the request there).
  const node = s.client();
  node.send(req('/live/demo/720p/1.m4s', 'Range: bytes=10-19\r\nConnection: close\r\n'));
  const fromNode = await node.response();
  const strip = (m: Map<string, string>) =>
    [...m].filter(([k]) => !['date', 'connection', 'keep-alive', 'x-ringcast-cache'].includes(k)).sort();
  t.deepEqual(strip(ranged.headers), strip(fromNode.headers));
  t.deepEqual(fromNode.body, ranged.body);
  t.is(await s.handOffs(), 1);
  t.is(s.origin.count('demo/720p/1.m4s'), 1);
});

test('a connection reuses a parsed header block or target only while the bytes are the same', async (t) => {
  const s = await setup(t);
  const other = randomBytes(20_000);
  s.origin.objects.set('demo/720p/2.m4s', other);
  const c = s.client();
  // Same lengths, other bytes: each must be read afresh, not taken from the previous request.
  c.send(
    req('/live/demo/720p/1.m4s', 'Range: bytes=0-9\r\n') +
      req('/live/demo/720p/1.m4s', 'Range: bytes=1-9\r\n') +
      req('/live/demo/720p/2.m4s', 'Range: bytes=1-9\r\n') +
      req('/live/demo/720p/2.m4s', 'Range: bytes=1-9\r\n') +
      req('/live/demo/720p/1.m4s', 'Range: bytes=1-9\r\n'),
  );
  t.deepEqual((await c.response()).body, s.body.subarray(0, 10));
  t.deepEqual((await c.response()).body, s.body.subarray(1, 10));
  t.deepEqual((await c.response()).body, other.subarray(1, 10));
  t.deepEqual((await c.response()).body, other.subarray(1, 10));
  t.deepEqual((await c.response()).body, s.body.subarray(1, 10));
  // A target of the same length with a control character after a good one still goes to Node.
  c.send(req('/live/demo/720p/1.m4s?a=b') + req('/live/demo/720p/1.m4s?a\x01b'));
  t.is((await c.response()).status, 200);
  t.is((await c.response()).status, 400);
  t.is(await s.handOffs(), 1);
  t.is(s.origin.count('demo/720p/1.m4s'), 1);
});

test('a request split into single bytes is still answered', async (t) => {
  const s = await setup(t);
  const c = s.client();
  const text = req('/live/demo/720p/1.m4s', 'User-Agent: dribble\r\n');
  for (const ch of text) {
    c.send(ch);
    await new Promise((r) => setImmediate(r));
  }
  const got = await c.response();
  t.is(got.status, 200);
  t.deepEqual(got.body, s.body);
  t.is(await s.handOffs(), 0);
});

test('HEAD has the headers of GET and no body; the connection goes on', async (t) => {
  const s = await setup(t);
  await get(`${s.url}/live/demo/720p/1.m4s`);
  const c = s.client();
  c.send(`HEAD /live/demo/720p/1.m4s HTTP/1.1\r\nHost: relay\r\n\r\n`);
  const head = await c.response({ head: true });
  t.is(head.status, 200);
  t.is(head.headers.get('content-length'), String(s.body.length));
  t.regex(head.headers.get('etag') ?? '', /^"[0-9a-f]{32}"$/);
  c.send(req('/live/demo/720p/1.m4s'));
  const next = await c.response();
  t.deepEqual(next.body, s.body);
});

test('a hit from the fast path carries the same headers as one from Node', async (t) => {
  const s = await setup(t);
  await get(`${s.url}/live/demo/720p/1.m4s`);
  const fast = s.client();
  fast.send(req('/live/demo/720p/1.m4s'));
  const a = await fast.response();
  const node = s.client();
  // `Connection: close` is for Node's http: the same object, the same cache result.
  node.send(req('/live/demo/720p/1.m4s', 'Connection: close\r\n'));
  const b = await node.response();
  const strip = (m: Map<string, string>) =>
    [...m].filter(([k]) => !['date', 'connection', 'keep-alive'].includes(k)).sort();
  t.deepEqual(strip(a.headers), strip(b.headers));
  t.deepEqual(a.body, b.body);
  t.true(await node.closedByServer());
});
