import { createServer, request } from 'node:http';
import test from 'ava';
import { closeServer, listen } from '../../common/http.ts';
import { silentLogger } from '../../common/log.ts';
import { createOriginHandler } from '../../origin/http-server.ts';
import { OriginMetrics } from '../../origin/origin-metrics.ts';

/** The origin's HTTP front without a stream: what every path shares, and the control routes. */
async function serve(closing: { now: boolean }) {
  const handler = createOriginHandler({
    streams: new Map(),
    dataDir: '/nonexistent',
    metrics: new OriginMetrics(),
    log: silentLogger(),
    closing: () => closing.now,
  });
  const server = createServer(handler);
  return { base: await listen(server, 0), server };
}

type Row = [method: string, path: string, status: number, code?: string];
const rows: Row[] = [
  ['GET', '/healthz', 200],
  ['HEAD', '/healthz', 200],
  ['GET', '/metrics', 200],
  ['GET', '/healthz?x=1', 200],
  ['GET', '/healthz/', 404, 'RC_NOT_FOUND'],
  ['GET', '/HEALTHZ', 404, 'RC_NOT_FOUND'],
  ['GET', '/', 404, 'RC_NOT_FOUND'],
  ['GET', '/live/nosuch/master.m3u8', 404, 'RC_STREAM_NOT_FOUND'],
  ['GET', '/live/bad name/master.m3u8', 400, 'RC_BAD_PATH'],
  ['POST', '/healthz', 405, 'RC_METHOD_NOT_ALLOWED'],
  ['DELETE', '/nowhere', 405, 'RC_METHOD_NOT_ALLOWED'],
  ['PUT', '/live/demo/master.m3u8', 405, 'RC_METHOD_NOT_ALLOWED'],
  ['OPTIONS', '/healthz', 204],
  ['OPTIONS', '/live/demo/master.m3u8', 204],
];

test('every path: status, error code and CORS, control routes on the control app', async (t) => {
  const { base, server } = await serve({ now: false });
  try {
    for (const [method, path, status, code] of rows) {
      const res = await fetch(`${base}${path.replace(' ', '%20')}`, { method });
      const text = await res.text();
      t.is(res.status, status, `${method} ${path}`);
      t.is(res.headers.get('access-control-allow-origin'), '*', `${method} ${path}`);
      t.is(res.headers.get('etag'), null);
      if (code) t.is((JSON.parse(text) as { error: { code: string } }).error.code, code, `${method} ${path}`);
    }
    const health = (await (await fetch(`${base}/healthz`)).json()) as Record<string, unknown>;
    t.deepEqual(health, { ok: true, part: 'origin', streams: [] });
  } finally {
    await closeServer(server);
  }
});

test('closing: GET is 503 RC_SHUTTING_DOWN, the preflight and 405 are answered as before', async (t) => {
  const { base, server } = await serve({ now: true });
  try {
    for (const [method, path, status] of [
      ['GET', '/healthz', 503],
      ['GET', '/live/demo/master.m3u8', 503],
      ['OPTIONS', '/healthz', 204],
      ['POST', '/healthz', 405],
    ] as const) {
      const res = await fetch(`${base}${path}`, { method });
      await res.arrayBuffer();
      t.is(res.status, status, `${method} ${path}`);
    }
  } finally {
    await closeServer(server);
  }
});

/** A raw request target (absolute form), byte for byte: fetch would only send origin form. */
function rawStatus(base: string, target: string): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname: u.hostname, port: u.port, path: target, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('an absolute-form target is not routed by its tail: 404, as before express', async (t) => {
  const { base, server } = await serve({ now: false });
  try {
    for (const target of ['http://evil/healthz', 'http://evil/metrics']) {
      const got = await rawStatus(base, target);
      t.is(got.status, 404, target);
      t.is((JSON.parse(got.body) as { error: { code: string } }).error.code, 'RC_NOT_FOUND', target);
    }
  } finally {
    await closeServer(server);
  }
});
