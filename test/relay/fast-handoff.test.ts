/**
 * What the relay's fast path hands to Node's http (and what it refuses itself), errors on a kept
 * connection, chunked cut-through, fills that fail, and closing: a connection moving between the two
 * front ends loses and reorders nothing.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import test from 'ava';
import { closeServer, listen } from '../../common/http.ts';
import { type Answer, RawClient, req, setup } from './fast-kit.ts';
import { clusterWith, get, startRelay } from './helpers.ts';

test('requests the fast path does not take go to Node and get its answers', async (t) => {
  const s = await setup(t);
  await get(`${s.url}/live/demo/720p/1.m4s`);
  const cases: [string, (a: Answer) => boolean][] = [
    [`GET /live/demo/720p/1.m4s HTTP/1.0\r\n\r\n`, (a) => a.status === 200],
    [`GET /live/demo/720p/1.m4s HTTP/1.1\r\n\r\n`, (a) => a.status === 400], // no Host
    [
      req('/live/demo/720p/1.m4s', 'Content-Length: 5\r\n').replace(/\r\n$/, '\r\nhello'),
      (a) => a.status === 200,
    ],
    [req('/healthz'), (a) => a.status === 200 && a.body.includes('"part":"relay"')],
    [`POST /live/demo/720p/1.m4s HTTP/1.1\r\nHost: r\r\nContent-Length: 0\r\n\r\n`, (a) => a.status === 405],
    [`GET /live/demo/720p/1.m4s HTTP/1.1\nHost: r\n\n`, (a) => a.status === 200 || a.status === 400],
    [`GET /live/demo/720p/1.m4s HTTP/1.1\r\nHost : r\r\n\r\n`, (a) => a.status === 400],
  ];
  for (const [input, ok] of cases) {
    const c = s.client();
    c.send(input);
    const a = await c.response();
    t.true(ok(a), `${JSON.stringify(input)} → ${a.status}`);
  }
  t.is(await s.handOffs(), cases.length);
  // The relay still answers on the fast path.
  const after = s.client();
  after.send(req('/live/demo/720p/1.m4s'));
  t.is((await after.response()).status, 200);
});

test('bad paths and unknown streams get their JSON errors on the fast path, connection kept', async (t) => {
  const s = await setup(t);
  const c = s.client();
  c.send(req('/live/demo/720p/../x.m4s') + req('/live/other/720p/1.m4s') + req('/live/demo/720p/1.m4s'));
  const bad = await c.response();
  t.is(bad.status, 400);
  t.is(JSON.parse(bad.body.toString()).error.code, 'RC_BAD_PATH');
  t.is(bad.headers.get('x-ringcast-relay'), s.id);
  t.is(bad.headers.get('access-control-allow-origin'), '*');
  const unknown = await c.response();
  t.is(unknown.status, 404);
  t.is(JSON.parse(unknown.body.toString()).error.code, 'RC_STREAM_NOT_FOUND');
  t.is((await c.response()).status, 200);
  t.is(s.origin.total(), 1);
  t.is(await s.handOffs(), 0);
});

test('an upstream body without Content-Length reaches the viewer chunked and whole', async (t) => {
  const body = randomBytes(50_000);
  const origin = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'video/iso.segment' });
    res.write(body.subarray(0, 1000));
    setImmediate(() => res.end(body.subarray(1000)));
  });
  const originUrl = await listen(origin, 0);
  const { relay, url } = await startRelay(clusterWith(originUrl), { fastPath: true });
  const c = new RawClient(Number(new URL(url).port));
  t.teardown(async () => {
    c.close();
    await relay.close();
    origin.closeAllConnections();
    await closeServer(origin);
  });
  c.send(req('/live/demo/720p/9.m4s'));
  const first = await c.response();
  t.is(first.status, 200);
  t.true(first.headers.get('transfer-encoding') === 'chunked' || first.headers.has('content-length'));
  t.deepEqual(first.body, body);
  c.send(req('/live/demo/720p/9.m4s'));
  const hit = await c.response();
  t.is(hit.headers.get('content-length'), String(body.length));
  t.deepEqual(hit.body, body);
});

test('a viewer whose fill fails mid-body sees the connection cut, never a short 200', async (t) => {
  const s = await setup(t);
  s.origin.objects.set('demo/720p/7.m4s', randomBytes(200_000));
  s.origin.behaviour.set('demo/720p/7.m4s', 'die');
  const c = s.client();
  c.send(req('/live/demo/720p/7.m4s'));
  await t.throwsAsync(() => c.response());
  t.true(c.closed);
});

test('close ends idle fast-path connections at once', async (t) => {
  const s = await setup(t);
  const c = s.client();
  c.send(req('/live/demo/720p/1.m4s'));
  await c.response();
  const started = Date.now();
  await s.relay.close();
  t.true(await c.closedByServer());
  // Busy connections get 2 s to finish; an idle one is not made to wait for that.
  t.true(Date.now() - started < 1500, `${Date.now() - started} ms`);
});

test('HEAD gets no body with an error either: the next response on the connection stays in step', async (t) => {
  const s = await setup(t);
  const c = s.client();
  const head = (path: string) => `HEAD ${path} HTTP/1.1\r\nHost: relay\r\n\r\n`;
  c.send(head('/live/nosuch/720p/1.m4s') + head('/live/demo/720p/404.m4s') + req('/live/demo/720p/1.m4s'));
  const unknown = await c.response({ head: true });
  t.is(unknown.status, 404);
  const missing = await c.response({ head: true });
  t.is(missing.status, 404);
  t.true(Number(missing.headers.get('content-length')) > 0, 'the length of the GET body, as Node says');
  const next = await c.response();
  t.is(next.status, 200);
  t.deepEqual(next.body, s.body);
});

test('control characters in the target or a header value go to Node, which refuses them', async (t) => {
  const s = await setup(t);
  for (const input of [
    req('/live/demo/720p/1.m4s?a\x00b'),
    req('/live/demo/720p/1.m4s?a\x7fb'),
    req('/live/demo/720p/1.m4s', 'X-A: a\x00b\r\n'),
    req('/live/demo/720p/1.m4s', 'X-A: a\x01b\r\n'),
  ]) {
    const c = s.client();
    c.send(input);
    t.is((await c.response()).status, 400, JSON.stringify(input));
  }
  t.is(await s.handOffs(), 4);
});

test('a token path (/t/<token>/live/…) is answered on the fast path too, the token never in the cache key', async (t) => {
  const s = await setup(t);
  const c = s.client();
  // demo is a public stream: the token prefix is ignored and the object is the same cache entry.
  c.send(req('/t/k0.1.-.AAAAAAAAAAAAAAAAAAAAAA/live/demo/720p/1.m4s') + req('/live/demo/720p/1.m4s'));
  const viaToken = await c.response();
  t.is(viaToken.status, 200);
  const plain = await c.response();
  t.is(plain.status, 200);
  t.is(plain.headers.get('x-ringcast-cache'), 'HIT');
  t.is(s.origin.total(), 1);
  t.is(await s.handOffs(), 0);
});
