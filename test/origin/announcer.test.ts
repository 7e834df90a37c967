import { createServer } from 'node:http';
import test from 'ava';
import { closeServer, listen } from '../../common/http.ts';
import { silentLogger } from '../../common/log.ts';
import type { SegmentAnnouncement, StreamInfo } from '../../common/types.ts';
import { waitFor } from '../../harness/wait.ts';
import { Announcer } from '../../origin/announcer.ts';

const STREAM: StreamInfo = {
  id: 'demo',
  state: 'live',
  originUrl: 'http://127.0.0.1:1',
  renditions: [{ name: '180p', bandwidth: 400_000 }],
};
const segment = (msn: number): SegmentAnnouncement => ({
  streamId: 'demo',
  rendition: '180p',
  msn,
  file: `${msn}.m4s`,
  size: 10,
  sha256: 'a'.repeat(64),
  duration: 2,
  programDateTime: new Date().toISOString(),
});

/** A coordinator that answers `script` statuses in turn (then 200) and records each call. */
async function coordinator(script: number[]) {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const code = script.shift() ?? 200;
      calls.push(`${req.method} ${req.url} ${code} ${req.headers.authorization}`);
      res.writeHead(code, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const url = await listen(server, 0);
  return { url, calls, close: () => closeServer(server) };
}

const RETRY = { maxNumRetry: 5, retryDelayMs: 10, maxRetryDelayMs: 50 };

/** An announcer with the test retry policy; re-announcing every minute unless `intervalMs` says. */
const announcer = (coordinatorUrl: string | string[], secret: string, intervalMs = 60_000) =>
  new Announcer({ coordinatorUrl, secret, log: silentLogger(), retry: RETRY, intervalMs });

test('several coordinators: a failing one is passed over, the one that answered keeps the traffic', async (t) => {
  const down = await coordinator([503]);
  const up = await coordinator([]);
  t.teardown(() => Promise.all([down.close(), up.close()]));
  const a = announcer([down.url, up.url], 's3');
  a.stream(STREAM);
  a.segment(segment(0));
  a.segment(segment(1));
  await waitFor(() => up.calls.length === 3);
  await a.close();
  t.deepEqual(down.calls, ['PUT /api/v1/streams/demo 503 Bearer s3']);
  t.deepEqual(up.calls, [
    'PUT /api/v1/streams/demo 200 Bearer s3',
    'POST /api/v1/streams/demo/segments 200 Bearer s3',
    'POST /api/v1/streams/demo/segments 200 Bearer s3',
  ]);
});

test('announcements go out in order, retried after failures, with the secret', async (t) => {
  const c = await coordinator([503, 500]);
  t.teardown(c.close);
  const a = announcer(c.url, 's3');
  a.stream(STREAM);
  a.segment(segment(0));
  a.segment(segment(1));
  await waitFor(() => c.calls.length === 5);
  await a.close();
  t.deepEqual(c.calls, [
    'PUT /api/v1/streams/demo 503 Bearer s3',
    'PUT /api/v1/streams/demo 500 Bearer s3',
    'PUT /api/v1/streams/demo 200 Bearer s3',
    'POST /api/v1/streams/demo/segments 200 Bearer s3',
    'POST /api/v1/streams/demo/segments 200 Bearer s3',
  ]);
});

test('a 404 on a segment (coordinator lost the stream) re-sends the stream first', async (t) => {
  const c = await coordinator([200, 404]);
  t.teardown(c.close);
  const a = announcer(c.url, 's');
  a.stream(STREAM);
  a.segment(segment(7));
  await waitFor(() => c.calls.length === 4);
  await a.close();
  t.deepEqual(
    c.calls.map((x) => x.split(' ').slice(0, 3).join(' ')),
    [
      'PUT /api/v1/streams/demo 200',
      'POST /api/v1/streams/demo/segments 404',
      'PUT /api/v1/streams/demo 200',
      'POST /api/v1/streams/demo/segments 200',
    ],
  );
});

test('the stream is re-announced periodically; a dead coordinator never blocks the caller', async (t) => {
  const c = await coordinator([]);
  t.teardown(c.close);
  const a = announcer(c.url, 's', 50);
  a.start();
  a.stream(STREAM);
  await waitFor(() => c.calls.filter((x) => x.startsWith('PUT')).length >= 3);
  await a.close();
  const dead = announcer('http://127.0.0.1:9', 's');
  const started = Date.now();
  for (let i = 0; i < 100; i++) dead.segment(segment(i));
  t.true(Date.now() - started < 50, 'enqueueing is synchronous');
  await dead.close(0);
});
