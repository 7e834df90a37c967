import test from 'ava';
import { call, putStream, registerRelay, startCoordinator } from './helpers.ts';

// The master playlist is offered only for a stream the origin says is live (or ended, with its window
// still there): an idle stream or one whose input failed has variants that would answer 404.

test('master playlist: 404 RC_STREAM_NOT_FOUND while the stream is idle or in error; 200 once live', async (t) => {
  const c = await startCoordinator({ relayTimeoutMs: 60_000 });
  t.teardown(() => c.close());
  await registerRelay(c.url, 'r1', 'http://127.0.0.1:9001');
  await putStream(c.url, 'demo');
  const live = (await call(`${c.url}/api/v1/cluster`)).body.streams[0];
  for (const state of ['idle', 'error']) {
    const put = await call(`${c.url}/api/v1/streams/demo`, {
      method: 'PUT',
      body: { ...live, id: undefined, state },
    });
    t.is(put.status < 300, true, JSON.stringify(put.body));
    const res = await call(`${c.url}/live/demo/master.m3u8`);
    t.is(res.status, 404, state);
    t.is(res.body.error.code, 'RC_STREAM_NOT_FOUND');
    t.regex(res.body.error.message, new RegExp(`not live \\(${state}\\)`));
  }
  await putStream(c.url, 'demo');
  t.is((await fetch(`${c.url}/live/demo/master.m3u8`)).status, 200);
});
