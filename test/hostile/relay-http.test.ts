/**
 * A stranger on a relay's HTTP port, seen by both front ends: one corpus of requests (good, malformed,
 * oversized, pipelined) goes to a relay with the raw-socket fast path and to one without it, and both
 * must give the same statuses, error codes and framing (Content-Length, chunked, connection close).
 */
import { connect } from 'node:net';
import test from 'ava';
import { clusterWith, FakeUpstream, startRelay } from '../relay/helpers.ts';

/** One response as the client read it, reduced to what both front ends must agree on. */
interface Framed {
  status: number;
  contentLength: string | undefined;
  chunked: boolean;
  connection: string | undefined;
  error: string | undefined;
  cache: string | undefined;
  bodyBytes: number;
}

interface Exchange {
  responses: Framed[];
  /** The server closed the connection after the last response. */
  closed: boolean;
}

/** Splits `buf` into complete responses (`head` tells which ones have no body); the rest stays. */
function parseResponses(buf: Buffer, heads: boolean[]): { framed: Framed[]; rest: Buffer } {
  const framed: Framed[] = [];
  let at = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const lines = buf.toString('latin1', at, end).split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0]!)?.[1] ?? 0);
    const h = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const c = line.indexOf(':');
      h.set(line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim());
    }
    const noBody = heads[framed.length] === true || status === 304 || status === 204;
    let bodyEnd = end + 4;
    const chunked = h.get('transfer-encoding') === 'chunked';
    if (!noBody && chunked) {
      const last = buf.indexOf('\r\n0\r\n\r\n', bodyEnd - 2);
      if (last < 0) break;
      bodyEnd = last + 7;
    } else if (!noBody) bodyEnd += Number(h.get('content-length') ?? 0);
    if (bodyEnd > buf.length) break;
    const body = buf.toString('utf8', end + 4, bodyEnd);
    framed.push({
      status,
      contentLength: h.get('content-length'),
      chunked,
      connection: h.get('connection')?.toLowerCase(),
      error: h.get('x-ringcast-error') ?? /"code":"([A-Z_]+)"/.exec(body)?.[1],
      cache: h.get('x-ringcast-cache'),
      bodyBytes: bodyEnd - end - 4,
    });
    at = bodyEnd;
  }
  return { framed, rest: buf.subarray(at) };
}

/**
 * Writes `parts` to a fresh connection (one write each, in order) and reads `expect` responses, then,
 * if the last one says `connection: close` or fewer came, waits for the close. Bounded by a deadline.
 */
function exchange(port: number, parts: Buffer[], heads: boolean[], expect: number): Promise<Exchange> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const responses: Framed[] = [];
    let closed = false;
    const finish = () => {
      clearTimeout(deadline);
      sock.destroy();
      resolve({ responses, closed });
    };
    const deadline = setTimeout(finish, 5000);
    const settled = () => {
      if (responses.length < expect) return false;
      return responses.at(-1)?.connection !== 'close' || closed;
    };
    sock.on('data', (d: Buffer) => {
      const parsed = parseResponses(Buffer.concat([buf, d]), heads.slice(responses.length));
      responses.push(...parsed.framed);
      buf = Buffer.from(parsed.rest);
      if (settled()) finish();
    });
    sock.on('close', () => {
      closed = true;
      finish();
    });
    sock.on('error', () => {});
    sock.on('connect', async () => {
      for (const p of parts) {
        // Separate writes so the server may see them as separate reads (it need not).
        await new Promise<void>((r) => sock.write(p, () => r()));
      }
    });
  });
}

const SEG = '/live/demo/720p/5.m4s';
const req = (target: string, extra = '', method = 'GET') =>
  `${method} ${target} HTTP/1.1\r\nHost: relay\r\nUser-Agent: diff\r\n${extra}\r\n`;
const pad = (n: number) => `X-Pad: ${'a'.repeat(n)}\r\n`;

interface Case {
  name: string;
  parts: string[];
  /** Which of the expected responses answer a HEAD (no body). */
  heads?: boolean[];
  expect: number;
}

const CASES: Case[] = [
  { name: 'good GET', parts: [req(SEG)], expect: 1 },
  { name: 'good HEAD', parts: [req(SEG, '', 'HEAD')], heads: [true], expect: 1 },
  { name: 'unknown stream', parts: [req('/live/nope/720p/5.m4s')], expect: 1 },
  { name: 'bad path', parts: [req('/live/demo/720p/..%2f..%2fetc%2fpasswd')], expect: 1 },
  { name: 'unknown file', parts: [req('/live/demo/720p/6.m4s')], expect: 1 },
  { name: 'Connection: close', parts: [req(SEG, 'Connection: close\r\n')], expect: 1 },
  { name: 'HTTP/1.0', parts: [`GET ${SEG} HTTP/1.0\r\nHost: relay\r\n\r\n`], expect: 1 },
  { name: 'no Host', parts: [`GET ${SEG} HTTP/1.1\r\nUser-Agent: diff\r\n\r\n`], expect: 1 },
  { name: 'bare LF', parts: [`GET ${SEG} HTTP/1.1\nHost: relay\n\n`], expect: 1 },
  { name: 'space before colon', parts: [`GET ${SEG} HTTP/1.1\r\nHost : relay\r\n\r\n`], expect: 1 },
  { name: 'obs-fold', parts: [`GET ${SEG} HTTP/1.1\r\nHost: relay\r\nX-A: b\r\n c\r\n\r\n`], expect: 1 },
  { name: 'garbage', parts: ['HELLO THERE\r\n\r\n'], expect: 1 },
  { name: 'binary', parts: ['\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n'], expect: 1 },
  {
    name: 'CL and TE together',
    parts: [req(SEG, 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n')],
    expect: 1,
  },
  { name: 'lowercase method', parts: [req(SEG, '', 'get')], expect: 1 },
  { name: 'head of 10 KiB', parts: [req(SEG, pad(10_000))], expect: 1 },
  { name: 'head of 20 KiB in one write', parts: [req(SEG, pad(20_000))], expect: 1 },
  {
    name: 'head of 20 KiB in two writes',
    parts: [req(SEG, pad(20_000)).slice(0, 9000), req(SEG, pad(20_000)).slice(9000)],
    expect: 1,
  },
  { name: 'target of 20 KiB', parts: [req(`/live/demo/720p/${'9'.repeat(20_000)}.m4s`)], expect: 1 },
  { name: 'head of 70 KiB', parts: [req(SEG, pad(70_000))], expect: 1 },
  { name: 'three pipelined GETs', parts: [req(SEG) + req(SEG) + req(SEG)], expect: 3 },
  {
    name: 'pipelined GET, HEAD, unknown, GET',
    parts: [req(SEG) + req(SEG, '', 'HEAD') + req('/live/demo/720p/7.m4s') + req(SEG)],
    heads: [false, true, false, false],
    expect: 4,
  },
  { name: 'pipelined GET then OPTIONS', parts: [req(SEG) + req(SEG, '', 'OPTIONS')], expect: 2 },
  { name: 'pipelined GET then 20 KiB head', parts: [req(SEG) + req(SEG, pad(20_000))], expect: 2 },
  { name: 'pipelined GET then garbage', parts: [`${req(SEG)}BLAH\r\n\r\n`], expect: 2 },
  { name: 'forged hop header', parts: [req(SEG, 'X-Ringcast-Hop: 1\r\n')], expect: 1 },
  {
    name: 'bad _HLS_msn on a plain stream',
    parts: [req('/live/demo/720p/index.m3u8?_HLS_msn=x')],
    expect: 1,
  },
];

test('both front ends answer one corpus the same way: status, code and framing', async (t) => {
  const origin = await new FakeUpstream().start();
  origin.objects.set('demo/720p/5.m4s', Buffer.alloc(3000, 5));
  origin.objects.set('demo/720p/index.m3u8', Buffer.from('#EXTM3U\n'));
  const cluster = clusterWith(origin.url);
  const fast = await startRelay(cluster, { id: 'relay-diff', fastPath: true });
  const node = await startRelay(cluster, { id: 'relay-diff', fastPath: false });
  t.teardown(() => Promise.all([fast.relay.close(), node.relay.close(), origin.close()]));
  const port = (url: string) => Number(new URL(url).port);
  // Warm both caches alike, so the cache result of every case matches too.
  for (const url of [fast.url, node.url]) await exchange(port(url), [Buffer.from(req(SEG))], [], 1);
  const problems: string[] = [];
  for (const c of CASES) {
    const parts = c.parts.map((p) => Buffer.from(p, 'latin1'));
    const heads = c.heads ?? [];
    const [a, b] = await Promise.all([
      exchange(port(fast.url), parts, heads, c.expect),
      exchange(port(node.url), parts, heads, c.expect),
    ]);
    t.log(`${c.name}: ${a.responses.map((r) => r.status).join(',')}${a.closed ? ' (closed)' : ''}`);
    if (a.responses.length === 0) problems.push(`${c.name}: no answer`);
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      problems.push(`${c.name}: fast ${JSON.stringify(a)} node ${JSON.stringify(b)}`);
    }
    // Every error is a JSON body with its RC_ code (never a bare status from the parser).
    for (const r of [...a.responses, ...b.responses])
      if (r.status >= 400 && !/^RC_[A-Z_]+$/.test(r.error ?? ''))
        problems.push(`${c.name}: ${r.status} without a code`);
  }
  t.deepEqual(problems, []);
});

test('a head over the limit is 431 RC_HEAD_TOO_LARGE on both front ends, and the connection closes', async (t) => {
  const origin = await new FakeUpstream().start();
  origin.objects.set('demo/720p/5.m4s', Buffer.alloc(3000, 5));
  const cluster = clusterWith(origin.url);
  for (const fastPath of [true, false]) {
    const r = await startRelay(cluster, { fastPath });
    t.teardown(() => r.relay.close());
    const port = Number(new URL(r.url).port);
    for (const size of [20_000, 70_000]) {
      const got = await exchange(port, [Buffer.from(req(SEG, pad(size)))], [], 1);
      t.is(got.responses[0]?.status, 431, `fast path ${fastPath}, ${size} bytes`);
      t.is(got.responses[0]?.error, 'RC_HEAD_TOO_LARGE');
      t.true(got.closed);
    }
  }
  t.is(origin.total(), 0, 'nothing went upstream');
  t.teardown(() => origin.close());
});
