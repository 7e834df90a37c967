import test from 'ava';
import { sumMetric } from '../../harness/wait.ts';
import {
  call,
  putStream,
  RENDITIONS,
  rawRequest,
  registerRelay,
  SseClient,
  segmentBody,
  startCoordinator,
} from './helpers.ts';

test('a stream PUT and a segment announcement reach an SSE subscriber', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());
  const sse = await SseClient.open(`${c.url}/api/v1/events`);
  t.teardown(() => sse.close());
  await sse.waitFor('snapshot');
  const put = await putStream(c.url, 'demo');
  t.is(put.status, 200);
  t.is(put.body.stream.id, 'demo');
  const stream = await sse.waitFor('stream', (d) => d.id === 'demo');
  t.deepEqual(stream.renditions, RENDITIONS);
  const seg = await call(`${c.url}/api/v1/streams/demo/segments`, { body: segmentBody('demo', 42) });
  t.is(seg.status, 202);
  t.deepEqual(seg.body, { ok: true });
  const event = await sse.waitFor('segment', (d) => d.msn === 42);
  t.is(event.file, '42.m4s');
  t.is(event.streamId, 'demo');

  const cluster = (await call(`${c.url}/api/v1/cluster`)).body;
  t.deepEqual(
    cluster.streams.map((s: { id: string; state: string; originUrl: string }) => [
      s.id,
      s.state,
      s.originUrl,
    ]),
    [['demo', 'live', 'http://127.0.0.1:9999']],
  );
  // A new subscriber gets the stream in its snapshot.
  const late = await SseClient.open(`${c.url}/api/v1/events`);
  t.teardown(() => late.close());
  t.is((await late.waitFor('snapshot')).streams[0].id, 'demo');
  const metrics = await (await fetch(`${c.url}/metrics`)).text();
  t.is(sumMetric(metrics, 'ringcast_coordinator_segment_announcements_total'), 1);
  t.is(sumMetric(metrics, 'ringcast_coordinator_sse_clients'), 2);
});

test('segments of an unknown stream are refused with RC_STREAM_NOT_FOUND', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());
  const res = await call(`${c.url}/api/v1/streams/ghost/segments`, { body: segmentBody('ghost') });
  t.is(res.status, 404);
  t.is(res.body.error.code, 'RC_STREAM_NOT_FOUND');
});

test('bad bodies are 400 RC_BAD_BODY naming the field, never a crash', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());
  await putStream(c.url, 'demo');
  const seg = (patch: Record<string, unknown>) => ({ ...segmentBody('demo'), ...patch });
  const cases: Array<[string, string, unknown, string]> = [
    ['POST', '/api/v1/relays', { id: 'r1' }, 'url'],
    ['POST', '/api/v1/relays', { id: 'bad id', url: 'http://x:1' }, 'id'],
    ['POST', '/api/v1/relays', { id: 'r1', url: 'ftp://x' }, 'url'],
    ['POST', '/api/v1/relays', { id: 'r1', url: 'http://x:1', capacity: -1 }, 'capacity'],
    ['POST', '/api/v1/relays', [1, 2], 'body'],
    ['PUT', '/api/v1/streams/demo', { state: 'weird', originUrl: 'http://o:1', renditions: [] }, 'state'],
    [
      'PUT',
      '/api/v1/streams/demo',
      { state: 'live', originUrl: 'http://o:1', renditions: 'x' },
      'renditions',
    ],
    [
      'PUT',
      '/api/v1/streams/demo',
      { state: 'live', originUrl: 'http://o:1', renditions: [{ name: '720p', bandwidth: 0 }] },
      'renditions[0].bandwidth',
    ],
    [
      'PUT',
      '/api/v1/streams/demo',
      { state: 'live', originUrl: 'http://o:1', renditions: [{ name: 'a', bandwidth: 1, codecs: 'x"y' }] },
      'renditions[0].codecs',
    ],
    [
      'PUT',
      '/api/v1/streams/demo',
      { id: 'other', state: 'live', originUrl: 'http://o:1', renditions: [] },
      'id',
    ],
    ['POST', '/api/v1/streams/demo/segments', seg({ msn: -1 }), 'msn'],
    ['POST', '/api/v1/streams/demo/segments', seg({ msn: 'x' }), 'msn'],
    ['POST', '/api/v1/streams/demo/segments', seg({ sha256: 'zz' }), 'sha256'],
    ['POST', '/api/v1/streams/demo/segments', seg({ file: '../etc/passwd' }), 'file'],
    ['POST', '/api/v1/streams/demo/segments', seg({ rendition: undefined }), 'rendition'],
    ['POST', '/api/v1/streams/demo/segments', seg({ programDateTime: 'yesterday' }), 'programDateTime'],
    ['POST', '/api/v1/streams/demo/segments', seg({ streamId: 'other' }), 'streamId'],
    ['POST', '/api/v1/streams/demo/segments', seg({ duration: 0 }), 'duration'],
    ['POST', '/api/v1/relays/r1/heartbeat', { load: 5 }, 'load'],
    ['POST', '/api/v1/relays/r1/heartbeat', { load: { viewers: -2 } }, 'load.viewers'],
  ];
  for (const [method, path, body, field] of cases) {
    const res = await call(`${c.url}${path}`, { method, body });
    t.is(res.status, 400, `${method} ${path} ${JSON.stringify(body)}`);
    t.is(res.body.error?.code, 'RC_BAD_BODY', path);
    t.true(
      String(res.body.error?.message).includes(`'${field}'`),
      `${res.body.error?.message} names ${field}`,
    );
  }
  const notJson = await call(`${c.url}/api/v1/relays`, { rawBody: '{"id":' });
  t.is(notJson.status, 400);
  t.is(notJson.body.error.code, 'RC_BAD_BODY');
  const huge = await call(`${c.url}/api/v1/relays`, { rawBody: JSON.stringify({ pad: 'x'.repeat(70_000) }) });
  t.is(huge.status, 413);
  // Still serving after all of that.
  t.is((await registerRelay(c.url, 'r1', 'http://127.0.0.1:9001')).status, 200);
});

test('bad path params are 400 RC_BAD_PATH before anything else (even before auth)', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());
  const cases: Array<[string, string]> = [
    ['POST', '/api/v1/relays/bad.id/heartbeat'],
    ['POST', '/api/v1/relays/%2e%2e/drain'],
    ['DELETE', `/api/v1/relays/${'x'.repeat(65)}`],
    ['PUT', '/api/v1/streams/a%20b'],
    ['POST', '/api/v1/streams/..%2f..%2fetc/segments'],
    ['GET', '/live/bad$id/master.m3u8'],
    ['GET', '/steer/%00'],
    ['GET', '/player/../package.json'],
    ['GET', '/player/%2e%2e/package.json'],
    ['GET', '/player/a/..%2f..%2fpackage.json'],
    ['GET', '/player/.hidden'],
  ];
  for (const [method, path] of cases) {
    const res = await rawRequest(c.url, method, path);
    t.is(res.status, 400, `${method} ${path}`);
    t.is(res.body.error.code, 'RC_BAD_PATH', path);
  }
  const badSession = await call(`${c.url}/steer/demo?session=a%20b`);
  t.is(badSession.status, 400);
  t.is((await call(`${c.url}/nope`)).status, 404);
  t.is(
    (await call(`${c.url}/api/v1/ring`, { method: 'POST', body: {} })).body.error.code,
    'RC_METHOD_NOT_ALLOWED',
  );
});
