import { createServer, request, type Server } from 'node:http';
import test from 'ava';
import {
  addHealthAndMetrics,
  controlApp,
  finishControlApp,
  methodNotAllowed,
  namedParams,
} from '../../common/control-app.ts';
import { closeServer, listen } from '../../common/http.ts';
import { silentLogger } from '../../common/log.ts';
import { createRegistry } from '../../common/metrics.ts';

async function serve(closing: { now: boolean }): Promise<{ base: string; server: Server }> {
  const app = controlApp({ closing: () => closing.now });
  addHealthAndMetrics(app, { health: () => ({ ok: true }), registry: createRegistry('test') });
  app
    .route('/api/streams/:streamId')
    .get(namedParams('streamId'), (req, res) => {
      res.json({ id: req.params.streamId });
    })
    .all(methodNotAllowed);
  app.get('/boom', async () => {
    throw new Error('secret detail');
  });
  finishControlApp(app, silentLogger());
  const server = createServer(app);
  return { base: await listen(server, 0), server };
}

/** Node's client sends the path as written (fetch would resolve `%2e%2e` away). */
function raw(base: string, method: string, path: string) {
  return new Promise<{ status: number; headers: Record<string, unknown>; text: string }>(
    (resolve, reject) => {
      const { hostname, port } = new URL(base);
      const req = request({ hostname, port, path, method }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      });
      req.on('error', reject);
      req.end();
    },
  );
}

const cases: [string, string, number, string | undefined][] = [
  ['GET', '/healthz', 200, undefined],
  ['HEAD', '/healthz', 200, undefined],
  ['POST', '/healthz', 405, 'RC_METHOD_NOT_ALLOWED'],
  ['GET', '/HEALTHZ', 404, 'RC_NOT_FOUND'],
  ['GET', '/healthz/', 404, 'RC_NOT_FOUND'],
  ['GET', '/nothing', 404, 'RC_NOT_FOUND'],
  ['GET', '/api/streams/good-1', 200, undefined],
  ['GET', '/api/streams/..', 400, 'RC_BAD_PATH'],
  ['GET', '/api/streams/%2e%2e', 400, 'RC_BAD_PATH'],
  ['GET', '/api/streams/%zz', 400, 'RC_BAD_PATH'],
  ['DELETE', '/api/streams/good-1', 405, 'RC_METHOD_NOT_ALLOWED'],
  ['GET', '/boom', 500, 'RC_INTERNAL'],
];

test('control routes: one error shape with a code, no ETag, nothing about the stack', async (t) => {
  const closing = { now: false };
  const { base, server } = await serve(closing);
  t.teardown(() => closeServer(server));
  for (const [method, path, status, code] of cases) {
    const res = await raw(base, method, path);
    t.is(res.status, status, `${method} ${path}`);
    t.is(res.headers.etag, undefined);
    t.is(res.headers['x-powered-by'], undefined);
    const text = res.text;
    if (code) {
      t.is(JSON.parse(text).error.code, code, `${method} ${path}`);
      t.false(text.includes('secret detail'));
    }
  }
  const metrics = await fetch(`${base}/metrics`);
  t.is(metrics.status, 200);
  t.true((await metrics.text()).length > 0);
  closing.now = true;
  const late = await fetch(`${base}/healthz`);
  t.is(late.status, 503);
  t.is((await late.json()).error.code, 'RC_SHUTTING_DOWN');
});
