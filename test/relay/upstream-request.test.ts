import { Agent, createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import type { ErrorCode, RingcastError } from '../../common/errors.ts';
import { requestUpstream } from '../../relay/upstream-request.ts';

/** How the test server answers each path. */
const ANSWERS: Record<string, (res: ServerResponse) => void> = {
  '/ok': (res) => res.writeHead(200, { 'content-length': 5 }).end('hello'),
  '/short': (res) => {
    res.writeHead(200, { 'content-length': 10 });
    res.write('hello');
    setTimeout(() => res.destroy(), 20);
  },
  '/large': (res) => res.writeHead(200, { 'content-length': 100 }).end(Buffer.alloc(100)),
  '/chunked-large': (res) => {
    res.writeHead(200);
    res.end(Buffer.alloc(100));
  },
  '/hang': () => undefined,
  '/404': (res) => res.writeHead(404, { 'content-length': 3 }).end('no!'),
};

async function server(t: ExecutionContext): Promise<string> {
  const s = createServer((req, res) => ANSWERS[req.url ?? '']?.(res));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    s.closeAllConnections();
    s.close();
  });
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

/** What one request reported: the status, the bytes, and how it ended. */
function fetchOnce(url: string, agent: Agent, keepBody = true) {
  return new Promise<{ status?: number; body: string; err?: RingcastError }>((resolve) => {
    const got: { status?: number; body: string } = { body: '' };
    requestUpstream(
      url,
      {
        agent,
        headers: {},
        timeouts: { connectTimeoutMs: 1000, firstByteTimeoutMs: 300, idleTimeoutMs: 1000 },
        maxBytes: 50,
      },
      {
        onResponse: (status) => {
          got.status = status;
          if (!keepBody) setImmediate(() => resolve(got));
          return keepBody;
        },
        onData: (chunk) => {
          got.body += chunk.toString();
        },
        onEnd: () => resolve(got),
        onError: (err) => resolve({ ...got, err }),
      },
    );
  });
}

const cases: {
  path: string;
  keepBody?: boolean;
  status?: number;
  body: string;
  code?: ErrorCode;
  message?: RegExp;
}[] = [
  { path: '/ok', status: 200, body: 'hello' },
  { path: '/404', keepBody: false, status: 404, body: '' },
  {
    path: '/short',
    status: 200,
    body: 'hello',
    code: 'RC_UPSTREAM_FAILED',
    message: /aborted|closed mid-body|5 of 10/,
  },
  { path: '/large', body: '', code: 'RC_UPSTREAM_FAILED', message: /100 bytes is too large/ },
  { path: '/chunked-large', status: 200, body: '', code: 'RC_UPSTREAM_FAILED', message: /over 50 bytes/ },
  { path: '/hang', body: '', code: 'RC_UPSTREAM_TIMEOUT', message: /first byte timeout after 300 ms/ },
];

for (const c of cases) {
  test(`upstream request ${c.path}`, async (t) => {
    const base = await server(t);
    const agent = new Agent({ keepAlive: true });
    t.teardown(() => agent.destroy());
    const got = await fetchOnce(base + c.path, agent, c.keepBody);
    t.is(got.status, c.status);
    t.is(got.body, c.body);
    t.is(got.err?.code, c.code);
    if (c.message) t.regex(got.err?.message ?? '', c.message);
  });
}

test('a bad URL fails asynchronously, like an unreachable upstream', async (t) => {
  const agent = new Agent();
  t.teardown(() => agent.destroy());
  const got = await fetchOnce('http://[bad', agent);
  t.is(got.err?.code, 'RC_UPSTREAM_FAILED');
  t.regex(got.err?.message ?? '', /bad upstream URL/);
});
