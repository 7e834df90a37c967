import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import test from 'ava';
import type { TestCluster } from '../../harness/cluster.ts';
import { getText, sumMetric } from '../../harness/wait.ts';
import { allAlive, hostileFile } from './hostile-cluster.ts';
import { errorCode, OutcomeLog, rawRequest } from './hostile-kit.ts';

// A stranger on the HTTP ports of every server (relay, origin, coordinator) of one real cluster with a
// live stream: path traversal, oversized and malformed requests, slow clients, a flood of unknown
// stream ids. Each case must get a clear error or be contained: no process exits, no file outside the
// served roots is read, no upstream request or cache entry for a bad path or an unknown stream.
let c: TestCluster;
const log = new OutcomeLog();
type Target = 'relay' | 'origin' | 'coordinator';
const port = (t: Target) => Number(new URL(t === 'relay' ? c.relays[0]!.url : c[t].url).port);
const url = (t: Target) => (t === 'relay' ? c.relays[0]!.url : c[t].url);

const file = hostileFile('http-ports', 1, log, (cluster) => {
  c = cluster;
});

/** Upstream fetches of the relay other than its prefetches of the live stream's new segments. */
const relayMisses = async () =>
  sumMetric(await getText(`${c.relays[0]!.url}/metrics`), 'ringcast_relay_requests_total', { cache: 'miss' });
const upstreamFetches = async () => {
  const m = await getText(`${c.relays[0]!.url}/metrics`);
  return (
    sumMetric(m, 'ringcast_relay_upstream_fetches_total') - sumMetric(m, 'ringcast_relay_prefetches_total')
  );
};

const TRAVERSALS = [
  '/live/demo/../../../../etc/passwd',
  '/live/demo/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
  '/live/demo/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
  '/live/demo/..%2f..%2f..%2fetc%2fpasswd',
  '/live/demo/%252e%252e%252f%252e%252e%252fetc%252fpasswd',
  '/live/demo/..%5c..%5c..%5cetc%5cpasswd',
  '/live/demo/180p/..%00.m4s',
  '/live/demo/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd',
  '/live/demo/180p/....//....//....//etc/passwd',
  '/live/demo/180p/1.m4s%00.txt',
];
const PLAYER_TRAVERSALS = [
  '/player/../../../../etc/passwd',
  '/player/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
  '/player/..%2f..%2f..%2fetc%2fpasswd',
  '/player/%252e%252e/etc/passwd',
  '/player/..%5c..%5cpackage.json',
];

for (const target of ['relay', 'origin', 'coordinator'] as const) {
  const paths = target === 'coordinator' ? [...TRAVERSALS, ...PLAYER_TRAVERSALS] : TRAVERSALS;
  test.serial(`path traversal in every encoding → ${target}`, async (t) => {
    const missesBefore = await relayMisses();
    for (const path of paths) {
      const a = await rawRequest(
        port(target),
        `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      const leaked = a.text.includes('root:') || a.text.includes('"dependencies"');
      const ok = !leaked && (a.status === 0 || (a.status >= 400 && a.status < 500));
      log.add({
        group: 'traversal',
        target,
        input: path,
        outcome: `${a.status || 'closed'} ${errorCode(a)}`.trim(),
        ok,
      });
      t.true(ok, `${target} ${path}: ${a.status} ${a.text.slice(0, 200)}`);
    }
    // Fills started by viewer requests (misses); the relay's own prefetching of the live stream runs
    // meanwhile and is counted apart, so it cannot move this figure.
    if (target === 'relay') t.is(await relayMisses(), missesBefore, 'no upstream request for a bad path');
    await allAlive(t, c);
  });
}

for (const target of ['relay', 'origin', 'coordinator'] as const) {
  test.serial(`oversized URL, header, header count, request line garbage → ${target}`, async (t) => {
    const cases: [string, string][] = [
      ['URL of 100 KB', `GET /live/demo/${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`],
      ['header of 100 KB', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(100_000)}\r\n\r\n`],
      [
        '5,000 headers',
        `GET /healthz HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 5000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n\r\n`,
      ],
      ['binary garbage as request line', `${randomBytes(2048).toString('latin1')}\r\n\r\n`],
      ['HTTP/9.9 with a bad method', 'FOO\x00BAR /healthz HTTP/9.9\r\n\r\n'],
      [
        'Content-Length and chunked together',
        'POST /api/v1/relays HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      ],
    ];
    for (const [name, data] of cases) {
      const a = await rawRequest(port(target), data);
      const ok = a.status === 0 || (a.status >= 400 && a.status < 500);
      log.add({
        group: 'oversized / malformed HTTP',
        target,
        input: name,
        outcome: `${a.status || 'closed'}`,
        ok,
      });
      t.true(ok, `${target} ${name}: ${a.status}`);
    }
    await allAlive(t, c);
  });
}

for (const target of ['relay', 'origin', 'coordinator'] as const) {
  test.serial(`50 slow clients sending a byte a second do not hold up others → ${target}`, async (t) => {
    const line = 'GET /healthz HTTP/1.1\r\nHost: x\r\n';
    const socks = Array.from({ length: 50 }, () => connect(port(target), '127.0.0.1').on('error', () => {}));
    let i = 0;
    const dribble = setInterval(() => {
      for (const s of socks) if (!s.destroyed && i < line.length) s.write(line[i]!);
      i++;
    }, 1000);
    try {
      const worst = { ms: 0 };
      const until = Date.now() + 5000;
      while (Date.now() < until) {
        const started = performance.now();
        await getText(`${url(target)}/healthz`);
        worst.ms = Math.max(worst.ms, performance.now() - started);
        await new Promise((r) => setTimeout(r, 250));
      }
      const ok = worst.ms < 1000;
      log.add({
        group: 'slow clients',
        target,
        input: '50 sockets, one header byte per second, 5 s',
        outcome: `others served, worst /healthz ${worst.ms.toFixed(0)} ms`,
        ok,
      });
      t.true(ok, `worst ${worst.ms} ms`);
    } finally {
      clearInterval(dribble);
      for (const s of socks) s.destroy();
    }
    await allAlive(t, c);
  });
}

test.serial('a flood of 3,000 unknown stream ids: 404s, no upstream requests, no cache growth', async (t) => {
  for (const target of ['relay', 'origin', 'coordinator'] as const) {
    const fetchesBefore = await upstreamFetches();
    const entriesBefore = JSON.parse(await getText(`${c.relays[0]!.url}/healthz`)).cacheEntries as number;
    const statuses = new Map<number, number>();
    for (let batch = 0; batch < 30; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const id = `nosuch${batch}x${i}${randomBytes(4).toString('hex')}`;
          const path = target === 'coordinator' ? `/live/${id}/master.m3u8` : `/live/${id}/180p/index.m3u8`;
          const res = await fetch(`${url(target)}${path}`);
          await res.arrayBuffer();
          return res.status;
        }),
      );
      for (const s of answers) statuses.set(s, (statuses.get(s) ?? 0) + 1);
    }
    const entriesAfter = JSON.parse(await getText(`${c.relays[0]!.url}/healthz`)).cacheEntries as number;
    const fetches = (await upstreamFetches()) - fetchesBefore;
    const only404 = statuses.size === 1 && statuses.has(404);
    // The live stream's own fills go on meanwhile: allow its few entries and fetches.
    const ok = only404 && (target !== 'relay' || (fetches < 20 && entriesAfter - entriesBefore < 20));
    log.add({
      group: 'flood of unknown stream ids',
      target,
      input: '3,000 requests, 100 at a time',
      outcome: `${[...statuses].map(([s, n]) => `${n}×${s}`).join(', ')}${target === 'relay' ? `; upstream fetches +${fetches}, cache entries ${entriesBefore}→${entriesAfter}` : ''}`,
      ok,
    });
    t.true(ok, `${target}: ${[...statuses]} fetches ${fetches}`);
  }
  await allAlive(t, c);
});

file.endsPlaying();
