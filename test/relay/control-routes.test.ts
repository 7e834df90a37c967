import test from 'ava';
import { clusterWith, FakeUpstream, get, startRelay } from './helpers.ts';

// The relay's answers outside its hot path: control routes on express (relay/control-routes.ts), and
// what Node's front end decides for every path before routing (OPTIONS), by answer: `status code`.
const ANSWERS: Record<string, string[]> = {
  '200': ['GET /healthz', 'HEAD /healthz', 'GET /metrics', 'HEAD /metrics', 'GET /healthz?x=1'],
  '204': ['OPTIONS /healthz', 'OPTIONS /live/demo/720p/1.m4s', 'OPTIONS /nope'],
  '404 RC_NOT_FOUND': [
    'GET /HEALTHZ',
    'GET /healthz/',
    'GET /',
    'GET /nope',
    'POST /nope',
    'GET /live',
    'GET /%zz',
    // Absolute-form targets are not routed by their tail (as before express): no health or metrics.
    'GET http://evil/healthz',
    'GET http://evil/metrics',
  ],
  '405 RC_METHOD_NOT_ALLOWED': [
    'POST /healthz',
    'DELETE /metrics',
    'POST /live/demo/720p/1.m4s',
    'PUT /live/demo/master.m3u8',
  ],
};

test('control routes and front-end answers, by method and raw path', async (t) => {
  const origin = await new FakeUpstream().start();
  const s = await startRelay(clusterWith(origin.url));
  t.teardown(() => Promise.all([s.relay.close(), origin.close()]));
  for (const [answer, requests] of Object.entries(ANSWERS)) {
    const [status, code] = answer.split(' ');
    for (const line of requests) {
      const [method, rawPath] = line.split(' ');
      const got = await get(`${s.url}/`, {}, { method, rawPath });
      t.is(got.status, Number(status), line);
      if (code) t.is(JSON.parse(got.body.toString()).error.code, code, line);
    }
  }
  t.is(JSON.parse((await get(`${s.url}/healthz`)).body.toString()).part, 'relay');
  t.regex((await get(`${s.url}/metrics`)).body.toString(), /^ringcast_relay_/m);
});
