/**
 * Strangers on the coordinator's event streams: subscribers without the secret, too many subscribers,
 * subscribers that never read. Each test starts its own coordinator on an OS-chosen port.
 */
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { pino } from 'pino';
import { SseParser } from '../../common/sse.ts';
import type { CoordinatorConfig } from '../../coordinator/config.ts';
import { getText, sumMetric, waitFor } from '../../harness/wait.ts';
import {
  call,
  type Json,
  putStream,
  registerRelay,
  SECRET,
  segmentBody,
  startCoordinator,
} from '../coordinator/helpers.ts';

interface Subscription {
  status: number;
  /** The RC_ code of a refusal. */
  code: string;
  events: Array<{ event: string; data: Json }>;
  /** Raw text received, for checking what a stream does not carry. */
  text: string;
  close(): void;
}

/** Opens an event stream from `localAddress` (any 127.x address reaches a loopback server on Linux). */
function subscribe(
  t: ExecutionContext,
  url: string,
  opts: { secret?: string; localAddress?: string } = {},
): Promise<Subscription> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = opts.secret ? { authorization: `Bearer ${opts.secret}` } : {};
    const req = request(url, { headers, localAddress: opts.localAddress ?? '127.0.0.1' }, (res) => {
      const sub: Subscription = {
        status: res.statusCode ?? 0,
        code: '',
        events: [],
        text: '',
        close: () => req.destroy(),
      };
      t.teardown(() => sub.close());
      const parser = new SseParser((event, data) => sub.events.push({ event, data: JSON.parse(data) }));
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        sub.text += d;
        if (sub.status === 200) parser.push(d);
      });
      res.on('error', () => {});
      if (sub.status === 200) return resolve(sub);
      res.on('end', () => {
        sub.code = /"code":"([A-Z_]+)"/.exec(sub.text)?.[1] ?? '';
        resolve(sub);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A subscriber that sends its request and then never reads a byte. */
function stuckSubscriber(t: ExecutionContext, base: string): Promise<Socket> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(port), '127.0.0.1', () => {
      sock.write(`GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${SECRET}\r\n\r\n`);
      resolve(sock);
    });
    sock.on('error', () => {});
    sock.once('error', reject);
    t.teardown(() => sock.destroy());
  });
}

/** A logger whose lines the test can read. */
function capturingLogger(): { log: pino.Logger; lines: Json[] } {
  const lines: Json[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

/** A stream event of about 10 KB: 32 renditions with long codec strings. */
function bigStream(n: number) {
  const renditions = Array.from({ length: 32 }, (_, i) => ({
    name: `r${i}`,
    bandwidth: 1000 + i,
    codecs: `avc1.64001f,${'mp4a.40.2,'.repeat(18)}x${n}`.slice(0, 200),
  }));
  return { state: 'live', originUrl: 'http://127.0.0.1:9999', renditions, reason: `flood ${n}` };
}

async function coordinator(
  t: ExecutionContext,
  overrides: Partial<Record<keyof CoordinatorConfig, unknown>> = {},
) {
  const { log, lines } = capturingLogger();
  const c = await startCoordinator({ relayTimeoutMs: 600_000, ...overrides }, undefined, log);
  t.teardown(() => c.close());
  const metric = async (name: string, labels: Record<string, string> = {}) =>
    sumMetric(await getText(`${c.url}/metrics`), `ringcast_coordinator_${name}`, labels);
  return { ...c, lines, metric };
}

test('without the cluster secret the cluster stream is a 401 with no event; the dashboard view carries no origin URL or hash', async (t) => {
  const c = await coordinator(t);
  for (const secret of [undefined, 'wrong-secret-123']) {
    const s = await subscribe(t, `${c.url}/api/v1/events`, { secret });
    t.is(s.status, 401);
    t.is(s.code, 'RC_UNAUTHORIZED');
    t.deepEqual(s.events, []);
  }
  t.is((await registerRelay(c.url, 'r1', 'http://127.0.0.1:9001')).status, 200);
  const origin = 'http://10.9.8.7:7777';
  t.is((await putStream(c.url, 'demo', origin)).status, 200);
  const dash = await subscribe(t, `${c.url}/api/v1/dashboard/events`);
  t.is(dash.status, 200);
  const hash = 'b'.repeat(64);
  t.is(
    (
      await call(`${c.url}/api/v1/streams/demo/segments`, {
        body: { ...segmentBody('demo', 7), sha256: hash },
      })
    ).status,
    202,
  );
  const last = await waitFor(
    () =>
      [...dash.events]
        .reverse()
        .find(
          (e: { event: string; data: Json }) =>
            e.event === 'summary' && e.data.streams[0]?.lastSegment?.msn === 7,
        ),
    { timeoutMs: 5000, what: 'a summary with the segment' },
  );
  t.deepEqual(
    last.data.ring.relays.map((r: Json) => r.id),
    ['r1'],
  );
  t.deepEqual(last.data.streams[0].lastSegment, { rendition: '720p', msn: 7, size: 1234 });
  t.false(dash.text.includes('10.9.8.7'), 'no origin URL');
  t.false(dash.text.includes(hash), 'no segment hash');
  t.true(dash.events.every((e) => e.event === 'summary'));
  // The secret still opens the full stream.
  const member = await subscribe(t, `${c.url}/api/v1/events`, { secret: SECRET });
  t.is(member.status, 200);
  const snap = await waitFor(() => member.events.find((e) => e.event === 'snapshot'), { timeoutMs: 5000 });
  t.is(snap.data.streams[0].originUrl, origin);
});

test('dashboard streams are capped per address and in all (429 RC_TOO_MANY_SUBSCRIBERS); members only in all', async (t) => {
  const c = await coordinator(t, { eventsMaxPerAddress: 2, eventsMaxSubscribers: 3 });
  const dash = (localAddress: string) => subscribe(t, `${c.url}/api/v1/dashboard/events`, { localAddress });
  const a1 = await dash('127.0.0.1');
  const a2 = await dash('127.0.0.1');
  const a3 = await dash('127.0.0.1');
  t.deepEqual([a1.status, a2.status, a3.status], [200, 200, 429]);
  t.is(a3.code, 'RC_TOO_MANY_SUBSCRIBERS');
  t.true(a3.text.includes('from this address'));
  // Another address is not held back by the first one's streams, until the total is reached.
  const b1 = await dash('127.0.0.2');
  const c1 = await dash('127.0.0.3');
  t.deepEqual([b1.status, c1.status], [200, 429]);
  t.true(c1.text.includes('3 subscribers already'));
  // A closed stream frees its place.
  a1.close();
  await waitFor(async () => (await c.metric('sse_clients', { view: 'dashboard' })) === 2, {
    timeoutMs: 5000,
  });
  t.is((await dash('127.0.0.1')).status, 200);
  // Subscribers that hold the secret share one host (the demo runs several relays on it): no per-address cap.
  const members = [];
  for (let i = 0; i < 4; i++) members.push(await subscribe(t, `${c.url}/api/v1/events`, { secret: SECRET }));
  t.deepEqual(
    members.map((m) => m.status),
    [200, 200, 200, 429],
  );
  for (const m of members.slice(0, 3)) await waitFor(() => m.events.find((e) => e.event === 'snapshot'));
  t.is(await c.metric('sse_refused_total'), 3);
  t.true(c.lines.filter((l) => /event subscription refused/.test(l.msg)).length === 3, 'one log line each');
});

/** PUTs ~10 KB stream events until `done()`; returns how many were sent. */
async function flood(c: { url: string }, done: () => Promise<boolean>): Promise<number> {
  const deadline = Date.now() + 30_000;
  let n = 0;
  while (Date.now() < deadline) {
    const put = await call(`${c.url}/api/v1/streams/flood`, { method: 'PUT', body: bigStream(n) });
    if (put.status !== 200) throw new Error(`PUT answered ${put.status}`);
    n++;
    if (n % 20 === 0 && (await done())) return n;
  }
  throw new Error(`nothing dropped after ${n} events`);
}

test('a subscriber that never reads is dropped once too much is queued for it; a reading one gets every event', async (t) => {
  const c = await coordinator(t, { eventsMaxBufferedBytes: 65_536, eventsStallTimeoutMs: 600_000 });
  const good = await subscribe(t, `${c.url}/api/v1/events`, { secret: SECRET });
  await stuckSubscriber(t, c.url);
  await waitFor(async () => (await c.metric('sse_clients', { view: 'cluster' })) === 2, { timeoutMs: 5000 });
  const sent = await flood(c, async () => (await c.metric('sse_dropped_total', { reason: 'buffer' })) === 1);
  t.is(await c.metric('sse_clients', { view: 'cluster' }), 1, 'only the reader is left');
  const received = () => good.events.filter((e) => e.event === 'stream' && e.data.id === 'flood').length;
  await waitFor(() => received() === sent, { timeoutMs: 10_000, what: `all ${sent} events at the reader` });
  t.is(received(), sent);
  t.log(`dropped after ${sent} events of ~10 KB`);
  const drops = c.lines.filter((l) => /event subscriber dropped/.test(l.msg));
  t.is(drops.length, 1, 'one log line');
  t.like(drops[0], { view: 'cluster', reason: 'buffer', address: '127.0.0.1' });
  t.is((await call(`${c.url}/healthz`)).status, 200);
});

test('a subscriber whose connection stops draining is dropped after eventsStallTimeoutMs', async (t) => {
  const c = await coordinator(t, { eventsMaxBufferedBytes: 1_073_741_824, eventsStallTimeoutMs: 500 });
  await stuckSubscriber(t, c.url);
  await waitFor(async () => (await c.metric('sse_clients', { view: 'cluster' })) === 1, { timeoutMs: 5000 });
  await flood(c, async () => (await c.metric('sse_dropped_total', { reason: 'stalled' })) === 1);
  t.is(await c.metric('sse_clients', { view: 'cluster' }), 0);
  const drop = c.lines.find((l) => /event subscriber dropped/.test(l.msg));
  t.like(drop, { reason: 'stalled' });
  t.true(drop.blockedMs >= 500);
});

test('the dashboard view sends at most one summary a second, however fast events come', async (t) => {
  const c = await coordinator(t);
  await registerRelay(c.url, 'r1', 'http://127.0.0.1:9001');
  await putStream(c.url, 'demo');
  const dash = await subscribe(t, `${c.url}/api/v1/dashboard/events`);
  const started = Date.now();
  for (let i = 0; i < 300; i++)
    await call(`${c.url}/api/v1/streams/demo/segments`, { body: segmentBody('demo', i) });
  await waitFor(() => dash.events.some((e) => e.data.streams[0]?.lastSegment?.msn === 299), {
    timeoutMs: 5000,
  });
  const seconds = (Date.now() - started) / 1000;
  t.true(
    dash.events.length <= Math.ceil(seconds) + 2,
    `${dash.events.length} summaries in ${seconds.toFixed(1)} s`,
  );
  t.is(await c.metric('segment_announcements_total'), 300);
});
