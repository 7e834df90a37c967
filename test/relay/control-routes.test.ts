import test from 'ava';
import { clusterWith, FakeUpstream, get, startRelay } from './helpers.ts';

// The relay's answers outside its hot path: control routes on express (relay/control-routes.ts), and
// what Node's front end decides for every path before routing (shutdown, Host, OPTIONS).
const cases: [method: string, path: string, status: number, code: string | undefined][] = [
  ['GET', '/healthz', 200, undefined],
  ['HEAD', '/healthz', 200, undefined],
  ['GET', '/metrics', 200, undefined],
  ['HEAD', '/metrics', 200, undefined],
  ['POST', '/healthz', 405, 'RC_METHOD_NOT_ALLOWED'],
  ['DELETE', '/metrics', 405, 'RC_METHOD_NOT_ALLOWED'],
  ['GET', '/HEALTHZ', 404, 'RC_NOT_FOUND'],
  ['GET', '/healthz/', 404, 'RC_NOT_FOUND'],
  ['GET', '/healthz?x=1', 200, undefined],
  ['GET', '/', 404, 'RC_NOT_FOUND'],
  ['GET', '/nope', 404, 'RC_NOT_FOUND'],
  ['POST', '/nope', 404, 'RC_NOT_FOUND'],
  ['GET', '/live', 404, 'RC_NOT_FOUND'],
  ['GET', '/%zz', 404, 'RC_NOT_FOUND'],
  ['OPTIONS', '/healthz', 204, undefined],
  ['OPTIONS', '/live/demo/720p/1.m4s', 204, undefined],
  ['POST', '/live/demo/720p/1.m4s', 405, 'RC_METHOD_NOT_ALLOWED'],
  ['PUT', '/live/demo/master.m3u8', 405, 'RC_METHOD_NOT_ALLOWED'],
];

test('control routes and front-end answers, by method and raw path', async (t) => {
  const origin = await new FakeUpstream().start();
  const s = await startRelay(clusterWith(origin.url));
  t.teardown(() => Promise.all([s.relay.close(), origin.close()]));
  for (const [method, path, status, code] of cases) {
    const got = await get(`${s.url}/`, {}, { method, rawPath: path });
    const what = `${method} ${path}`;
    t.is(got.status, status, what);
    if (code) t.is(JSON.parse(got.body.toString()).error.code, code, what);
  }
  t.is(JSON.parse((await get(`${s.url}/healthz`)).body.toString()).part, 'relay');
  t.regex((await get(`${s.url}/metrics`)).body.toString(), /^ringcast_relay_/m);
});
