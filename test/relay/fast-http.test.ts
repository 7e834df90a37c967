/**
 * The relay's raw-socket fast path (relay/fast-http.ts): what it answers itself, what it hands to
 * Node's http, and that a connection moving between the two loses and reorders nothing.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { closeServer, listen } from '../../common/http.ts';
import { parseLivePath } from '../../common/names.ts';
import { CacheEntry } from '../../relay/cache-entry.ts';
import { FastHttp } from '../../relay/fast-http.ts';
import { ZeroCopy } from '../../relay/zero-copy.ts';
import { clusterWith, FakeUpstream, get, metric, startRelay } from './helpers.ts';

interface Answer {
  status: number;
  headers: Map<string, string>;
  /** Header names as sent. */
  names: string[];
  body: Buffer;
}

/** A raw client: writes bytes as given and parses the responses that come back, in order. */
class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;
  readonly socket: Socket;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on('error', () => {});
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async more(deadline: number): Promise<void> {
    if (this.closed) throw new Error('connection closed');
    if (Date.now() > deadline) throw new Error('timed out waiting for a response');
    await new Promise<void>((r) => {
      this.waiters.push(r);
      setTimeout(r, 100);
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next response; `head` when it answers a HEAD request (no body follows). */
  async response(opts: { head?: boolean } = {}): Promise<Answer> {
    const deadline = Date.now() + 5000;
    while (this.buf.indexOf('\r\n\r\n') < 0) await this.more(deadline);
    const end = this.buf.indexOf('\r\n\r\n');
    const lines = this.buf.toString('latin1', 0, end).split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers = new Map<string, string>();
    const names: string[] = [];
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      names.push(line.slice(0, i));
      headers.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
    }
    let rest = end + 4;
    let body = Buffer.alloc(0);
    if (!opts.head && status !== 304) {
      if (headers.get('transfer-encoding') === 'chunked') {
        const parts: Buffer[] = [];
        for (;;) {
          while (this.buf.indexOf('\r\n', rest) < 0) await this.more(deadline);
          const nl = this.buf.indexOf('\r\n', rest);
          const size = Number.parseInt(this.buf.toString('latin1', rest, nl), 16);
          while (this.buf.length < nl + 2 + size + 2) await this.more(deadline);
          parts.push(this.buf.subarray(nl + 2, nl + 2 + size));
          rest = nl + 2 + size + 2;
          if (size === 0) break;
        }
        body = Buffer.concat(parts);
      } else {
        const length = Number(headers.get('content-length') ?? 0);
        while (this.buf.length < rest + length) await this.more(deadline);
        body = Buffer.from(this.buf.subarray(rest, rest + length));
        rest += length;
      }
    }
    this.buf = this.buf.subarray(rest);
    return { status, headers, names, body };
  }

  /** Resolves once the server closed the connection (or after 3 s: false). */
  async closedByServer(): Promise<boolean> {
    const deadline = Date.now() + 3000;
    while (!this.closed && Date.now() < deadline) await this.more(deadline).catch(() => {});
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

async function setup(t: ExecutionContext) {
  const origin = await new FakeUpstream().start();
  const { relay, url, id } = await startRelay(clusterWith(origin.url), { fastPath: true });
  const port = Number(new URL(url).port);
  const clients: RawClient[] = [];
  const client = () => {
    const c = new RawClient(port);
    clients.push(c);
    return c;
  };
  t.teardown(async () => {
    for (const c of clients) c.close();
    await Promise.all([relay.close(), origin.close()]);
  });
  const body = randomBytes(20_000);
  origin.objects.set('demo/720p/1.m4s', body);
  // Each read of /metrics is a connection of its own, handed to Node (counted before it answers).
  let reads = 0;
  const handOffs = async () => {
    reads++;
    const text = (await get(`${url}/metrics`, { connection: 'close' })).body.toString();
    return metric(text, 'ringcast_relay_fast_path_handoffs_total') - reads;
  };
  return { origin, relay, url, id, port, body, client, handOffs };
}

const req = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: relay\r\n${extra}\r\n`;

test('plain keep-alive GETs are answered by the fast path: miss cut-through, then hits, no hand-off', async (t) => {
  const s = await setup(t);
  const c = s.client();
  c.send(req('/live/demo/720p/1.m4s'));
  const miss = await c.response();
  t.is(miss.status, 200);
  t.is(miss.headers.get('x-ringcast-cache'), 'MISS');
  t.deepEqual(miss.body, s.body);
  for (let i = 0; i < 3; i++) {
    c.send(req('/live/demo/720p/1.m4s'));
    const hit = await c.response();
    t.is(hit.headers.get('x-ringcast-cache'), 'HIT');
    t.is(hit.headers.get('x-ringcast-relay'), s.id);
    t.is(hit.headers.get('connection'), 'keep-alive');
    t.regex(hit.headers.get('date') ?? '', /GMT$/);
    // The fast path writes header names in lower case; Node's http writes `Date`, `Connection`.
    t.true(hit.names.includes('date') && hit.names.includes('connection'));
    t.deepEqual(hit.body, s.body);
  }
  t.is(s.origin.count('demo/720p/1.m4s'), 1);
  t.is(await s.handOffs(), 0);
  t.false(c.closed);
});

test('pipelined requests: fast, then one for Node (OPTIONS), then more: all answered, in order', async (t) => {
  const s = await setup(t);
  await get(`${s.url}/live/demo/720p/1.m4s`);
  const c = s.client();
  c.send(
    req('/live/demo/720p/1.m4s') +
      req('/live/demo/720p/1.m4s').replace('GET', 'OPTIONS') +
      req('/live/demo/720p/1.m4s') +
      req('/live/demo/720p/404.m4s'),
  );
  const first = await c.response();
  t.is(first.status, 200);
  t.deepEqual(first.body, s.body);
  const preflight = await c.response();
  t.is(preflight.status, 204);
  t.is(preflight.headers.get('access-control-allow-origin'), '*');
  const third = await c.response();
  t.is(third.status, 200);
  t.deepEqual(third.body, s.body);
  const missing = await c.response();
  t.is(missing.status, 404);
  t.is(JSON.parse(missing.body.toString()).error.code, 'RC_NOT_FOUND');
  t.is(await s.handOffs(), 1);
});

test('ranges and If-None-Match are answered on the fast path, as Node answers them', async (t) => {
  const s = await setup(t);
  const c = s.client();
  // The first one waits for the whole object (a range needs its length), the rest are hits.
  c.send(
    req('/live/demo/720p/1.m4s', 'Range: bytes=10-19\r\n') +
      req('/live/demo/720p/1.m4s', 'Range: bytes=-5\r\n') +
      req('/live/demo/720p/1.m4s', 'Range: bytes=999999-\r\n') +
      req('/live/demo/720p/1.m4s', 'Range: bytes=0-1,5-6\r\n'),
  );
  const ranged = await c.response();
  t.is(ranged.status, 206);
  t.is(ranged.headers.get('content-range'), `bytes 10-19/${s.body.length}`);
  t.deepEqual(ranged.body, s.body.subarray(10, 20));
  const suffix = await c.response();
  t.is(suffix.status, 206);
  t.deepEqual(suffix.body, s.body.subarray(-5));
  const unsatisfiable = await c.response();
  t.is(unsatisfiable.status, 416);
  t.is(unsatisfiable.headers.get('content-range'), `bytes */${s.body.length}`);
  const several = await c.response();
  t.is(several.status, 200);
  t.deepEqual(several.body, s.body);
  const etag = several.headers.get('etag')!;
  c.send(
    req('/live/demo/720p/1.m4s', `If-None-Match: ${etag}\r\n`) +
      req('/live/demo/720p/1.m4s', 'If-None-Match: "other"\r\n'),
  );
  const notModified = await c.response();
  t.is(notModified.status, 304);
  t.is(notModified.headers.get('etag'), etag);
  t.false(notModified.headers.has('content-type'));
  const changed = await c.response();
  t.is(changed.status, 200);
  t.deepEqual(changed.body, s.body);
  // The same answers from Node's http (Connection: close sends the request there).
  const node = s.client();
  node.send(req('/live/demo/720p/1.m4s', 'Range: bytes=10-19\r\nConnection: close\r\n'));
  const fromNode = await node.response();
  const strip = (m: Map<string, string>) =>
    [...m].filter(([k]) => !['date', 'connection', 'keep-alive', 'x-ringcast-cache'].includes(k)).sort();
  t.deepEqual(strip(ranged.headers), strip(fromNode.headers));
  t.deepEqual(fromNode.body, ranged.body);
  t.is(await s.handOffs(), 1);
  t.is(s.origin.count('demo/720p/1.m4s'), 1);
});

test('a connection reuses a parsed header block or target only while the bytes are the same', async (t) => {
  const s = await setup(t);
  const other = randomBytes(20_000);
  s.origin.objects.set('demo/720p/2.m4s', other);
  const c = s.client();
  // Same lengths, other bytes: each must be read afresh, not taken from the previous request.
  c.send(
    req('/live/demo/720p/1.m4s', 'Range: bytes=0-9\r\n') +
      req('/live/demo/720p/1.m4s', 'Range: bytes=1-9\r\n') +
      req('/live/demo/720p/2.m4s', 'Range: bytes=1-9\r\n') +
      req('/live/demo/720p/2.m4s', 'Range: bytes=1-9\r\n') +
      req('/live/demo/720p/1.m4s', 'Range: bytes=1-9\r\n'),
  );
  t.deepEqual((await c.response()).body, s.body.subarray(0, 10));
  t.deepEqual((await c.response()).body, s.body.subarray(1, 10));
  t.deepEqual((await c.response()).body, other.subarray(1, 10));
  t.deepEqual((await c.response()).body, other.subarray(1, 10));
  t.deepEqual((await c.response()).body, s.body.subarray(1, 10));
  // A target of the same length with a control character after a good one still goes to Node.
  c.send(req('/live/demo/720p/1.m4s?a=b') + req('/live/demo/720p/1.m4s?a\x01b'));
  t.is((await c.response()).status, 200);
  t.is((await c.response()).status, 400);
  t.is(await s.handOffs(), 1);
  t.is(s.origin.count('demo/720p/1.m4s'), 1);
});

test('a request split into single bytes is still answered', async (t) => {
  const s = await setup(t);
  const c = s.client();
  const text = req('/live/demo/720p/1.m4s', 'User-Agent: dribble\r\n');
  for (const ch of text) {
    c.send(ch);
    await new Promise((r) => setImmediate(r));
  }
  const got = await c.response();
  t.is(got.status, 200);
  t.deepEqual(got.body, s.body);
  t.is(await s.handOffs(), 0);
});

test('HEAD has the headers of GET and no body; the connection goes on', async (t) => {
  const s = await setup(t);
  await get(`${s.url}/live/demo/720p/1.m4s`);
  const c = s.client();
  c.send(`HEAD /live/demo/720p/1.m4s HTTP/1.1\r\nHost: relay\r\n\r\n`);
  const head = await c.response({ head: true });
  t.is(head.status, 200);
  t.is(head.headers.get('content-length'), String(s.body.length));
  t.regex(head.headers.get('etag') ?? '', /^"[0-9a-f]{32}"$/);
  c.send(req('/live/demo/720p/1.m4s'));
  const next = await c.response();
  t.deepEqual(next.body, s.body);
});

test('a hit from the fast path carries the same headers as one from Node', async (t) => {
  const s = await setup(t);
  await get(`${s.url}/live/demo/720p/1.m4s`);
  const fast = s.client();
  fast.send(req('/live/demo/720p/1.m4s'));
  const a = await fast.response();
  const node = s.client();
  // `Connection: close` is for Node's http: the same object, the same cache result.
  node.send(req('/live/demo/720p/1.m4s', 'Connection: close\r\n'));
  const b = await node.response();
  const strip = (m: Map<string, string>) =>
    [...m].filter(([k]) => !['date', 'connection', 'keep-alive'].includes(k)).sort();
  t.deepEqual(strip(a.headers), strip(b.headers));
  t.deepEqual(a.body, b.body);
  t.true(await node.closedByServer());
});

test('requests the fast path does not take go to Node and get its answers', async (t) => {
  const s = await setup(t);
  await get(`${s.url}/live/demo/720p/1.m4s`);
  const cases: [string, (a: Answer) => boolean][] = [
    [`GET /live/demo/720p/1.m4s HTTP/1.0\r\n\r\n`, (a) => a.status === 200],
    [`GET /live/demo/720p/1.m4s HTTP/1.1\r\n\r\n`, (a) => a.status === 400], // no Host
    [
      req('/live/demo/720p/1.m4s', 'Content-Length: 5\r\n').replace(/\r\n$/, '\r\nhello'),
      (a) => a.status === 200,
    ],
    [req('/healthz'), (a) => a.status === 200 && a.body.includes('"part":"relay"')],
    [`POST /live/demo/720p/1.m4s HTTP/1.1\r\nHost: r\r\nContent-Length: 0\r\n\r\n`, (a) => a.status === 405],
    [`GET /live/demo/720p/1.m4s HTTP/1.1\nHost: r\n\n`, (a) => a.status === 200 || a.status === 400],
    [`GET /live/demo/720p/1.m4s HTTP/1.1\r\nHost : r\r\n\r\n`, (a) => a.status === 400],
  ];
  for (const [input, ok] of cases) {
    const c = s.client();
    c.send(input);
    const a = await c.response();
    t.true(ok(a), `${JSON.stringify(input)} → ${a.status}`);
  }
  t.is(await s.handOffs(), cases.length);
  // The relay still answers on the fast path.
  const after = s.client();
  after.send(req('/live/demo/720p/1.m4s'));
  t.is((await after.response()).status, 200);
});

test('bad paths and unknown streams get their JSON errors on the fast path, connection kept', async (t) => {
  const s = await setup(t);
  const c = s.client();
  c.send(req('/live/demo/720p/../x.m4s') + req('/live/other/720p/1.m4s') + req('/live/demo/720p/1.m4s'));
  const bad = await c.response();
  t.is(bad.status, 400);
  t.is(JSON.parse(bad.body.toString()).error.code, 'RC_BAD_PATH');
  t.is(bad.headers.get('x-ringcast-relay'), s.id);
  t.is(bad.headers.get('access-control-allow-origin'), '*');
  const unknown = await c.response();
  t.is(unknown.status, 404);
  t.is(JSON.parse(unknown.body.toString()).error.code, 'RC_STREAM_NOT_FOUND');
  t.is((await c.response()).status, 200);
  t.is(s.origin.total(), 1);
  t.is(await s.handOffs(), 0);
});

test('an upstream body without Content-Length reaches the viewer chunked and whole', async (t) => {
  const body = randomBytes(50_000);
  const origin = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'video/iso.segment' });
    res.write(body.subarray(0, 1000));
    setImmediate(() => res.end(body.subarray(1000)));
  });
  const originUrl = await listen(origin, 0);
  const { relay, url } = await startRelay(clusterWith(originUrl), { fastPath: true });
  const c = new RawClient(Number(new URL(url).port));
  t.teardown(async () => {
    c.close();
    await relay.close();
    origin.closeAllConnections();
    await closeServer(origin);
  });
  c.send(req('/live/demo/720p/9.m4s'));
  const first = await c.response();
  t.is(first.status, 200);
  t.true(first.headers.get('transfer-encoding') === 'chunked' || first.headers.has('content-length'));
  t.deepEqual(first.body, body);
  c.send(req('/live/demo/720p/9.m4s'));
  const hit = await c.response();
  t.is(hit.headers.get('content-length'), String(body.length));
  t.deepEqual(hit.body, body);
});

test('a viewer whose fill fails mid-body sees the connection cut, never a short 200', async (t) => {
  const s = await setup(t);
  s.origin.objects.set('demo/720p/7.m4s', randomBytes(200_000));
  s.origin.behaviour.set('demo/720p/7.m4s', 'die');
  const c = s.client();
  c.send(req('/live/demo/720p/7.m4s'));
  await t.throwsAsync(() => c.response());
  t.true(c.closed);
});

test('close ends idle fast-path connections at once', async (t) => {
  const s = await setup(t);
  const c = s.client();
  c.send(req('/live/demo/720p/1.m4s'));
  await c.response();
  const started = Date.now();
  await s.relay.close();
  t.true(await c.closedByServer());
  // Busy connections get 2 s to finish; an idle one is not made to wait for that.
  t.true(Date.now() - started < 1500, `${Date.now() - started} ms`);
});

test('HEAD gets no body with an error either: the next response on the connection stays in step', async (t) => {
  const s = await setup(t);
  const c = s.client();
  const head = (path: string) => `HEAD ${path} HTTP/1.1\r\nHost: relay\r\n\r\n`;
  c.send(head('/live/nosuch/720p/1.m4s') + head('/live/demo/720p/404.m4s') + req('/live/demo/720p/1.m4s'));
  const unknown = await c.response({ head: true });
  t.is(unknown.status, 404);
  const missing = await c.response({ head: true });
  t.is(missing.status, 404);
  t.true(Number(missing.headers.get('content-length')) > 0, 'the length of the GET body, as Node says');
  const next = await c.response();
  t.is(next.status, 200);
  t.deepEqual(next.body, s.body);
});

test('control characters in the target or a header value go to Node, which refuses them', async (t) => {
  const s = await setup(t);
  for (const input of [
    req('/live/demo/720p/1.m4s?a\x00b'),
    req('/live/demo/720p/1.m4s?a\x7fb'),
    req('/live/demo/720p/1.m4s', 'X-A: a\x00b\r\n'),
    req('/live/demo/720p/1.m4s', 'X-A: a\x01b\r\n'),
  ]) {
    const c = s.client();
    c.send(input);
    t.is((await c.response()).status, 400, JSON.stringify(input));
  }
  t.is(await s.handOffs(), 4);
});

/** The zero-copy module; a test that needs it fails when scripts/setup.sh did not build it. */
function zeroCopyFor(t: ExecutionContext): ZeroCopy {
  const { zeroCopy, error } = ZeroCopy.open();
  if (!zeroCopy) t.fail(error);
  return zeroCopy!;
}

/**
 * FastHttp alone with short timeouts, serving one complete object (`body`, or `size` bytes of 7s), kept
 * in a memfd region and sent with sendfile when `zeroCopy` is given.
 */
async function fastAlone(
  t: ExecutionContext,
  size: number,
  zeroCopy?: ZeroCopy,
  body = Buffer.alloc(size, 7),
) {
  const entry = new CacheEntry('demo/720p/1.m4s', parseLivePath('/live/demo/720p/1.m4s'));
  entry.start(200, size);
  entry.push(body);
  entry.complete('0'.repeat(64), zeroCopy && ((chunks, n) => zeroCopy.join(chunks, n)));
  t.is(entry.zeroCopy !== undefined, zeroCopy !== undefined);
  const fast = new FastHttp({
    zeroCopy,
    route: () => ({ entry, result: 'HIT' }),
    context: () => ({ relayId: 'relay-test', playlistCacheControl: 'public, max-age=1' }),
    pin: () => {},
    unpin: () => {},
    served: () => {},
    handOff: (socket) => socket.destroy(),
    keepAliveMs: 200,
    stallMs: 1000,
  });
  // When the server side of each connection closed (ms after it was accepted), in accept order.
  const closedAfter: (number | undefined)[] = [];
  const server = createNetServer((socket) => {
    const i = closedAfter.push(undefined) - 1;
    const accepted = Date.now();
    socket.on('close', () => {
      closedAfter[i] = Date.now() - accepted;
    });
    fast.attach(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sockets: Socket[] = [];
  t.teardown(() => {
    for (const x of sockets) x.destroy();
    server.close();
  });
  const open = async () => {
    const socket = connect((server.address() as { port: number }).port, '127.0.0.1');
    socket.on('error', () => {});
    sockets.push(socket);
    socket.write(req('/live/demo/720p/1.m4s'));
    const n = closedAfter.length;
    while (closedAfter.length === n) await new Promise((r) => setTimeout(r, 5));
    return socket;
  };
  return { open, closedAfter, port: (server.address() as { port: number }).port };
}

// Serial: each counts on its reader's timing, which other tests' load would disturb.
const slowAndStuck = test.macro(async (t, zeroCopy: boolean, size: number) => {
  const zc = zeroCopy ? zeroCopyFor(t) : undefined;
  const { open, closedAfter } = await fastAlone(t, size, zc);
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
  while (closedAfter[1] === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const stuckAfter = closedAfter[1];
  t.true(
    stuckAfter !== undefined && stuckAfter >= 900,
    `a reader that stopped was cut after ${stuckAfter} ms`,
  );
  while (Date.now() < deadline - 2000) await new Promise((r) => setTimeout(r, 50));
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
