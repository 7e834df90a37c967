import { request } from 'node:http';
import test from 'ava';
import { SECRET, startCoordinator } from './helpers.ts';

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One request, path byte for byte, optional body; the connection is not reused. */
function raw(base: string, method: string, path: string, body?: string): Promise<Raw> {
  const { hostname, port } = new URL(base);
  const headers: Record<string, string> = { authorization: `Bearer ${SECRET}`, connection: 'close' };
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Method, path, then the status and (for errors) the code; what the hand-made router answered too. */
const cases: [string, string, number, string | undefined][] = [
  ['GET', '/', 200, undefined],
  ['HEAD', '/', 200, undefined],
  ['POST', '/', 405, 'RC_METHOD_NOT_ALLOWED'],
  ['OPTIONS', '/live/demo/master.m3u8', 405, 'RC_METHOD_NOT_ALLOWED'],
  ['PUT', '/api/v1/relays/bad.id', 405, 'RC_METHOD_NOT_ALLOWED'],
  ['GET', '/api/v1/relays', 405, 'RC_METHOD_NOT_ALLOWED'],
  ['GET', '/API/v1/ring', 404, 'RC_NOT_FOUND'],
  ['GET', '/api/v1/ring/', 404, 'RC_NOT_FOUND'],
  ['GET', '/api/v1/streams/%zz', 400, 'RC_BAD_PATH'],
  ['HEAD', '/api/v1/ring', 200, undefined],
  ['HEAD', '/healthz', 200, undefined],
  ['POST', '/player/index.html', 405, 'RC_METHOD_NOT_ALLOWED'],
  ['GET', '/player//x.js', 400, 'RC_BAD_PATH'],
  ['GET', '/player/%zz.js', 400, 'RC_BAD_PATH'],
  ['GET', '*', 400, 'RC_BAD_PATH'],
];

test('the coordinator routes: status and error code per method and raw path', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());
  for (const [method, path, status, code] of cases) {
    const res = await raw(c.url, method, path);
    t.is(res.status, status, `${method} ${path}`);
    t.is(res.headers.etag, undefined);
    t.is(res.headers['x-powered-by'], undefined);
    if (code) t.is(JSON.parse(res.text).error.code, code, `${method} ${path}`);
  }
});

test('HEAD of an event stream is headers only; a redirect keeps the query; an over-large body closes', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());
  for (const path of ['/api/v1/events', '/api/v1/dashboard/events']) {
    const head = await raw(c.url, 'HEAD', path);
    t.is(head.status, 200, path);
    t.is(head.headers['content-type'], 'text/event-stream');
  }
  const moved = await raw(c.url, 'GET', '/player?stream=demo&session=a%20b');
  t.is(moved.status, 301);
  t.is(moved.headers.location, '/player/?stream=demo&session=a+b');
  const big = await raw(c.url, 'POST', '/api/v1/relays', JSON.stringify({ pad: 'x'.repeat(70_000) })).catch(
    () => undefined,
  );
  // The client may see the close before the answer; when it sees the answer, it says close.
  if (big) {
    t.is(big.status, 413);
    t.is(big.headers.connection, 'close');
    t.is(JSON.parse(big.text).error.code, 'RC_BODY_TOO_LARGE');
  }
});
