/**
 * The fast path's writes under slow and stuck readers, and bodies sent with sendfile from memfd regions
 * (relay/zero-copy.ts).
 */
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { fastAlone, RawClient, req, zeroCopyFor } from './fast-kit.ts';
import { clusterWith, FakeUpstream, get, metric, startRelay } from './helpers.ts';

// Serial: each counts on its reader's timing, which other tests' load would disturb.
const slowAndStuck = test.macro(async (t, zeroCopy: boolean, size: number) => {
  const zc = zeroCopy ? zeroCopyFor(t) : undefined;
  const { open, closedAfter, closed } = await fastAlone(t, size, zc);
  // Reads in 10 ms bursts every 300 ms: gaps longer than keepAliveMs (200), never stallMs (1000).
  const slow = await open();
  let slowGot = 0;
  slow.on('data', (d: Buffer) => {
    slowGot += d.length;
  });
  slow.pause();
  const bursts = setInterval(() => {
    slow.resume();
    setTimeout(() => slow.pause(), 10);
  }, 300);
  t.teardown(() => clearInterval(bursts));
  // Reads the first bytes, then nothing.
  const stuck = await open();
  stuck.once('data', () => stuck.pause());
  const deadline = Date.now() + 5000;
  await closed(1, deadline - Date.now());
  const stuckAfter = closedAfter[1];
  t.true(
    stuckAfter !== undefined && stuckAfter >= 900,
    `a reader that stopped was cut after ${stuckAfter} ms`,
  );
  // The slow reader is watched for the rest of the window: time passing is what this part tests.
  await new Promise((r) => setTimeout(r, Math.max(0, deadline - 2000 - Date.now())));
  // Closed once it had everything (an idle keep-alive connection) is fine; cut short is not.
  t.true(closedAfter[0] === undefined || slowGot > size, `the slow reader was cut after ${slowGot} bytes`);
  t.true(slowGot > 0);
  // What sendfile carried: the whole of both bodies when they fit the socket buffers, else a part.
  if (zc && size <= 2 * 1024 * 1024) t.true(zc.sent > 2 * size, `sendfile sent ${zc.sent} bytes`);
  else if (zc) t.true(zc.sent > 0 && zc.sent < 2 * size, `sendfile sent ${zc.sent} bytes`);
});

test.serial(
  'a viewer that reads slowly but steadily is not cut; one that stops reading is, after stallMs',
  slowAndStuck,
  false,
  64 * 1024 * 1024,
);
test.serial(
  'the same with sendfile taking the first part of the body and the socket the rest',
  slowAndStuck,
  true,
  64 * 1024 * 1024,
);
test.serial(
  'the same with sendfile taking the whole body: bytes the kernel holds count as a response in flight',
  slowAndStuck,
  true,
  2 * 1024 * 1024,
);

test('a memfd body larger than the socket buffer arrives whole and in order, twice on one connection', async (t) => {
  const body = randomBytes(6 * 1024 * 1024);
  const zc = zeroCopyFor(t);
  const { port } = await fastAlone(t, body.length, zc, body);
  const c = new RawClient(port);
  t.teardown(() => c.close());
  c.send(req('/live/demo/720p/1.m4s') + req('/live/demo/720p/1.m4s'));
  for (const n of [1, 2]) {
    const got = await c.response();
    t.is(got.status, 200);
    t.true(got.body.equals(body), `body ${n}`);
  }
  c.send(req('/live/demo/720p/1.m4s'));
  t.true((await c.response()).body.equals(body), 'body 3');
  t.true(zc.sent > 0, 'sendfile carried part of the bodies');
});

test('a relay keeps large segments in memfd regions and serves them whole; --zero-copy false uses plain buffers', async (t) => {
  const origin = await new FakeUpstream().start();
  t.teardown(() => origin.close());
  const body = randomBytes(3 * 1024 * 1024);
  origin.objects.set('demo/720p/1.m4s', body);
  for (const zeroCopy of [true, false]) {
    const { relay, url } = await startRelay(clusterWith(origin.url), { fastPath: true, zeroCopy });
    t.teardown(() => relay.close());
    t.is(JSON.parse((await get(`${url}/healthz`)).body.toString()).zeroCopy, zeroCopy);
    const c = new RawClient(Number(new URL(url).port));
    t.teardown(() => c.close());
    // A miss (cut-through), then hits: whole, HEAD, a range, whole again.
    c.send(
      req('/live/demo/720p/1.m4s') +
        req('/live/demo/720p/1.m4s') +
        req('/live/demo/720p/1.m4s').replace('GET', 'HEAD') +
        req('/live/demo/720p/1.m4s', 'Range: bytes=100-199\r\n') +
        req('/live/demo/720p/1.m4s'),
    );
    t.true((await c.response()).body.equals(body), `miss, zeroCopy ${zeroCopy}`);
    const hit = await c.response();
    t.is(hit.headers.get('x-ringcast-cache'), 'HIT');
    t.true(hit.body.equals(body), `hit, zeroCopy ${zeroCopy}`);
    const head = await c.response({ head: true });
    t.is(head.headers.get('content-length'), String(body.length));
    t.deepEqual((await c.response()).body, body.subarray(100, 200));
    t.true((await c.response()).body.equals(body), `second hit, zeroCopy ${zeroCopy}`);
    // Two hits of 3 MB: sendfile carries what the socket buffer takes of each, or nothing when off.
    const sent = metric(
      (await get(`${url}/metrics`)).body.toString(),
      'ringcast_relay_zero_copy_bytes_total',
    );
    if (zeroCopy) t.true(sent > 0, `sendfile sent ${sent} bytes`);
    else t.is(sent, 0);
  }
});
