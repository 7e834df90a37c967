import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { startTestCluster, type TestCluster, waitForLive } from '../helpers/cluster.ts';
import { getText, sumMetric, waitFor } from '../helpers/wait.ts';
import { errorCode, OutcomeLog, rawRequest } from './hostile-kit.ts';

// Hostile input against every HTTP server (relay, origin, coordinator) and the RTMP port of one real
// cluster with a live stream. Each case must get a clear error or be contained: no process exits, no
// file outside the served roots is read, no bad bytes reach a cache or a viewer.
let c: TestCluster;
const log = new OutcomeLog();
type Target = 'relay' | 'origin' | 'coordinator';
const port = (t: Target) => Number(new URL(t === 'relay' ? c.relays[0]!.url : c[t].url).port);
const url = (t: Target) => (t === 'relay' ? c.relays[0]!.url : c[t].url);

test.before(async () => {
  c = await startTestCluster({ relays: 1 });
  await waitForLive(c, 'demo', 2);
});

test.after.always(async () => {
  await c?.stop();
  const file = log.write('cases');
  const bad = log.outcomes.filter((o) => !o.ok);
  console.log(`hostile: ${log.outcomes.length} cases, ${bad.length} not contained; outcomes in ${file}`);
});

/** Every part still runs and answers /healthz. */
async function allAlive(t: ExecutionContext): Promise<void> {
  for (const p of [c.coordinator, c.origin, ...c.relays]) {
    t.is(p.child.exitCode, null, `${p.part} is running`);
    t.is(p.child.signalCode, null, `${p.part} was not killed`);
  }
  for (const u of [c.coordinator.url, c.origin.url, ...c.relays.map((r) => r.url)])
    await getText(`${u}/healthz`);
}

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
    await allAlive(t);
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
    await allAlive(t);
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
    await allAlive(t);
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
  await allAlive(t);
});

/** Sends a mutating API call to the coordinator. */
async function api(method: string, path: string, body: string | undefined, secret: string | undefined) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (secret !== undefined) headers.authorization = `Bearer ${secret}`;
  try {
    const res = await fetch(`${c.coordinator.url}${path}`, { method, headers, body });
    const text = await res.text();
    return { status: res.status, code: /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? '' };
  } catch {
    // The server answered early and closed while the body was still being sent (a body over the limit).
    return { status: 0, code: 'connection closed' };
  }
}

test.serial(
  'malformed registration, heartbeat, stream and announcement bodies get 400/413; the ring is unchanged',
  async (t) => {
    const before = await c.cluster();
    const S = c.secret;
    const cases: [string, string, string | undefined][] = [
      ['POST /api/v1/relays', 'not json', '{"id":'],
      ['POST /api/v1/relays', 'a JSON array', '[1,2,3]'],
      ['POST /api/v1/relays', 'id with a slash', '{"id":"../evil","url":"http://127.0.0.1:1"}'],
      ['POST /api/v1/relays', 'url with javascript:', '{"id":"evil1","url":"javascript:alert(1)"}'],
      ['POST /api/v1/relays', 'url with file:', '{"id":"evil2","url":"file:///etc/passwd"}'],
      ['POST /api/v1/relays', 'negative capacity', '{"id":"evil3","url":"http://127.0.0.1:1","capacity":-5}'],
      ['POST /api/v1/relays', 'capacity 1e308', '{"id":"evil4","url":"http://127.0.0.1:1","capacity":1e308}'],
      ['POST /api/v1/relays', 'missing url', '{"id":"evil5"}'],
      ['POST /api/v1/relays', '__proto__ pollution', '{"__proto__":{"admin":true},"id":"evil6"}'],
      [
        'POST /api/v1/relays',
        'body of 2 MB',
        `{"id":"evil7","url":"http://127.0.0.1:1","x":"${'x'.repeat(2_000_000)}"}`,
      ],
      [
        'POST /api/v1/relays/relay-nosuch/heartbeat',
        'heartbeat for an unknown relay',
        '{"load":{"viewers":1,"cacheBytes":1,"bytesServedTotal":1}}',
      ],
      [
        'PUT /api/v1/streams/evil',
        'stream with a bad state',
        '{"state":"hacked","originUrl":"http://127.0.0.1:1","renditions":[]}',
      ],
      [
        'PUT /api/v1/streams/evil',
        'stream with a file: origin',
        '{"state":"live","originUrl":"file:///etc","renditions":[]}',
      ],
      [
        'PUT /api/v1/streams/evil',
        'renditions not an array',
        '{"state":"live","originUrl":"http://127.0.0.1:1","renditions":"x"}',
      ],
      [
        'POST /api/v1/streams/demo/segments',
        'negative msn',
        '{"streamId":"demo","rendition":"180p","msn":-1,"file":"1.m4s","size":1,"sha256":"00","duration":2}',
      ],
      [
        'POST /api/v1/streams/demo/segments',
        'file with traversal',
        '{"streamId":"demo","rendition":"180p","msn":1,"file":"../../x.m4s","size":1,"sha256":"00","duration":2}',
      ],
      [
        'POST /api/v1/streams/demo/segments',
        'size as a string',
        '{"streamId":"demo","rendition":"180p","msn":1,"file":"1.m4s","size":"big","sha256":"00","duration":2}',
      ],
      [
        'POST /api/v1/streams/demo/segments',
        'sha256 not hex',
        '{"streamId":"demo","rendition":"180p","msn":1,"file":"1.m4s","size":1,"sha256":"zz","duration":2}',
      ],
      ['POST /api/v1/streams/demo/segments', 'empty body', undefined],
    ];
    for (const [call, name, body] of cases) {
      const [method, path] = call.split(' ') as [string, string];
      const a = await api(method, path, body, S);
      // An oversized body is refused with 413 and Connection: close; a client still sending when the
      // server closes may see the close before the 413. Either way nothing was read past the limit.
      const oversized = name === 'body of 2 MB' && a.status === 0;
      const ok = oversized || (a.status >= 400 && a.status < 500 && a.code !== '');
      log.add({
        group: 'malformed API bodies (with the secret)',
        target: 'coordinator',
        input: `${call}: ${name}`,
        outcome: `${a.status} ${a.code}`,
        ok,
      });
      t.true(ok, `${call} ${name}: ${a.status} ${a.code}`);
    }
    const after = await c.cluster();
    t.deepEqual(
      after.ring.relays.map((r) => r.id),
      before.ring.relays.map((r) => r.id),
      'no relay joined',
    );
    t.falsy(
      after.streams.find((s) => s.id === 'evil'),
      'no stream was created',
    );
    await allAlive(t);
  },
);

test.serial('calls without the cluster secret are refused with 401', async (t) => {
  const reg = '{"id":"intruder","url":"http://127.0.0.1:1","capacity":100}';
  const cases: [string, string, string | undefined, string | undefined][] = [
    ['register a relay, no Authorization', 'POST /api/v1/relays', reg, undefined],
    ['register a relay, wrong secret', 'POST /api/v1/relays', reg, 'wrong'],
    ['register a relay, secret with a suffix', 'POST /api/v1/relays', reg, `${c.secret}x`],
    ['register a relay, empty bearer', 'POST /api/v1/relays', reg, ''],
    [
      'announce a stream, no secret',
      'PUT /api/v1/streams/intruder',
      '{"state":"live","originUrl":"http://127.0.0.1:1","renditions":[]}',
      undefined,
    ],
    ['announce a segment, wrong secret', 'POST /api/v1/streams/demo/segments', '{}', 'wrong'],
    ['drain a relay, no secret', `POST /api/v1/relays/${c.relays[0]!.id}/drain`, undefined, undefined],
    ['remove a relay, no secret', `DELETE /api/v1/relays/${c.relays[0]!.id}`, undefined, undefined],
    ['publish-auth, no secret', 'POST /api/v1/publish-auth', `{"key":"${c.streamKey}"}`, undefined],
  ];
  for (const [name, call, body, secret] of cases) {
    const [method, path] = call.split(' ') as [string, string];
    const a = await api(method, path, body, secret);
    const ok = a.status === 401 && a.code === 'RC_UNAUTHORIZED';
    log.add({
      group: 'no or wrong cluster secret',
      target: 'coordinator',
      input: name,
      outcome: `${a.status} ${a.code}`,
      ok,
    });
    t.true(ok, `${name}: ${a.status} ${a.code}`);
  }
  const view = await c.cluster();
  t.false(
    view.ring.relays.some((r) => r.id === 'intruder'),
    'the intruder is not in the ring',
  );
  t.true(
    view.ring.relays.every((r) => r.state === 'active'),
    'no relay was drained',
  );
  await allAlive(t);
});

const published = async () =>
  sumMetric(await getText(`${c.origin.url}/metrics`), 'ringcast_origin_segments_published_total');

test.serial('garbage on the RTMP port does not crash the origin or disturb the live stream', async (t) => {
  const rtmpPort = Number(new URL(c.origin.rtmpUrl!.replace('rtmp:', 'http:')).port);
  const send = (data: Buffer, holdMs = 300) =>
    new Promise<string>((resolve) => {
      const s = connect(rtmpPort, '127.0.0.1');
      let got = 0;
      s.on('data', (d) => {
        got += d.length;
      });
      s.on('error', () => resolve(`reset after ${got} B back`));
      s.on('close', () => resolve(`closed after ${got} B back`));
      s.write(data);
      setTimeout(() => {
        s.destroy();
        resolve(`held open, ${got} B back`);
      }, holdMs);
    });
  const c0c1 = Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)]);
  const cases: [string, () => Promise<string>][] = [
    ['64 KB of random bytes', () => send(randomBytes(65_536))],
    ['an HTTP request', () => send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))],
    ['handshake version 0xFF', () => send(Buffer.concat([Buffer.from([0xff]), randomBytes(1536)]))],
    [
      'valid C0+C1, then random chunks',
      () => send(Buffer.concat([c0c1, randomBytes(1536), randomBytes(8192)]), 800),
    ],
    ['half a handshake, then silence', () => send(c0c1.subarray(0, 700), 1500)],
    [
      '200 connections opened and dropped',
      async () => {
        await Promise.all(Array.from({ length: 200 }, () => send(Buffer.from([3]), 50)));
        return 'all dropped';
      },
    ],
  ];
  for (const [name, run] of cases) {
    const before = await published();
    const outcome = await run();
    await waitFor(async () => (await published()) > before, {
      timeoutMs: 10_000,
      what: 'a segment after the garbage',
    });
    log.add({
      group: 'RTMP garbage',
      target: 'origin RTMP',
      input: name,
      outcome: `${outcome}; stream kept publishing`,
      ok: true,
    });
    t.pass(name);
  }
  await allAlive(t);
});

/** A node:http server standing in for a relay or an origin. */
async function fakeServer(
  handler: Parameters<typeof createServer>[1],
): Promise<{ server: Server; url: string }> {
  const server = createServer(handler!);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

test.serial(
  'a fake ring member answering corrupt or truncated segments: viewers get the origin bytes',
  async (t) => {
    let mode: 'flip' | 'truncate' | 'short' | 'extra' = 'flip';
    let served = 0;
    const fake = await fakeServer(async (req, res) => {
      const upstream = await fetch(`${c.origin.url}${req.url}`);
      const body = Buffer.from(await upstream.arrayBuffer());
      if (!upstream.ok || !req.url!.endsWith('.m4s')) {
        res.writeHead(upstream.status, { 'content-length': body.length }).end(body);
        return;
      }
      served++;
      if (mode === 'flip') {
        for (let i = 0; i < body.length; i += 97) body[i] = body[i]! ^ 0xff;
        res.writeHead(200, { 'content-length': body.length }).end(body);
      } else if (mode === 'truncate') {
        res.writeHead(200, { 'content-length': body.length });
        res.write(body.subarray(0, body.length >> 1), () => res.destroy());
      } else if (mode === 'short') {
        const part = body.subarray(0, body.length - 100);
        res.writeHead(200, { 'content-length': part.length }).end(part);
      } else {
        const more = Buffer.concat([body, randomBytes(100)]);
        res.writeHead(200, { 'content-length': more.length }).end(more);
      }
    });
    const relay = c.relays[0]!.url;
    const beat = async () =>
      api(
        'POST',
        '/api/v1/relays/fake-relay/heartbeat',
        '{"load":{"viewers":0,"cacheBytes":0,"bytesServedTotal":0}}',
        c.secret,
      );
    const reg = await api(
      'POST',
      '/api/v1/relays',
      JSON.stringify({ id: 'fake-relay', url: fake.url, capacity: 3 }),
      c.secret,
    );
    t.is(reg.status, 200);
    const heart = setInterval(() => void beat().catch(() => {}), 500);
    try {
      await waitFor(
        async () => {
          const h = JSON.parse(await getText(`${relay}/healthz`));
          return (
            h.ringVersion === (await c.cluster()).ring.version && (await c.cluster()).ring.relays.length === 2
          );
        },
        { what: 'the real relay sees the fake one in its ring' },
      );
      // Every bad answer fails its peer fill: cut or short bodies as upstream errors, flipped or extra bytes
      // as verification failures (counted among the peer's upstream errors too).
      const failures = async () =>
        sumMetric(await getText(`${relay}/metrics`), 'ringcast_relay_upstream_errors_total', {
          source: 'peer',
        });
      for (const m of ['flip', 'truncate', 'short', 'extra'] as const) {
        mode = m;
        const v0 = await failures();
        const s0 = served;
        let checked = 0;
        let mismatched = 0;
        await waitFor(
          async () => {
            for (const r of ['180p', '90p']) {
              const pl = await getText(`${c.origin.url}/live/demo/${r}/index.m3u8`);
              const uri = pl
                .split('\n')
                .filter((l) => l && !l.startsWith('#'))
                .at(-1)!;
              const want = Buffer.from(
                await (await fetch(`${c.origin.url}/live/demo/${r}/${uri}`)).arrayBuffer(),
              );
              const got = Buffer.from(
                await (await fetch(`${relay}/live/demo/${r}/${uri}?session=victim`)).arrayBuffer(),
              );
              checked++;
              if (!want.equals(got)) mismatched++;
            }
            // The fake has answered at least two bad segments to the relay, and viewers read what came after.
            return served >= s0 + 2 && checked >= 6;
          },
          { timeoutMs: 20_000, intervalMs: 300, what: `${m} segments from the fake relay` },
        );
        const ok = mismatched === 0;
        log.add({
          group: 'fake relay (ring member) with bad segments',
          target: 'relay',
          input: {
            flip: 'bytes flipped, same size',
            truncate: 'connection cut half way',
            short: 'shorter body and Content-Length',
            extra: '100 extra bytes',
          }[m],
          outcome: `${served - s0} bad answers from the fake; failed or mismatched peer fills +${(await failures()) - v0}; ${checked} viewer reads, ${mismatched} differed from the origin`,
          ok,
        });
        t.is(mismatched, 0, `${m}: viewers got only origin bytes`);
        t.true((await failures()) > v0, `${m}: the bad peer fills were counted`);
      }
    } finally {
      clearInterval(heart);
      await api('DELETE', '/api/v1/relays/fake-relay', undefined, c.secret);
      fake.server.closeAllConnections();
      fake.server.close();
    }
    await allAlive(t);
  },
);

test.serial(
  'malformed playlists and failures from a fake origin: relay contained, errors never cached',
  async (t) => {
    const hitsOf = new Map<string, number>();
    const fake = await fakeServer((req, res) => {
      // Each case has its own rendition, named after the misbehaviour: /live/evil/<mode>/index.m3u8.
      const mode = req.url!.split('/')[3] ?? '';
      hitsOf.set(mode, (hitsOf.get(mode) ?? 0) + 1);
      if (mode === 'garbage')
        res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' }).end(randomBytes(4096));
      else if (mode === 'traversal')
        res
          .writeHead(200)
          .end(
            '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n../../../../etc/passwd\n#EXTINF:2,\n%2e%2e/%2e%2e/x.m4s\n',
          );
      else if (mode === 'e500') res.writeHead(500).end('boom');
      else if (mode === 'truncated') {
        res.writeHead(200, { 'content-length': 10_000 });
        res.write('#EXTM3U\n#EXT-X-TARGETDURATION:2\n', () => res.destroy());
      } else if (mode === 'hang') {
        /* never answers */
      } else if (mode === 'hugeheader') res.writeHead(200, { 'x-big': 'x'.repeat(60_000) }).end('#EXTM3U\n');
      else res.writeHead(500).end();
    });
    const MODES = ['garbage', 'traversal', 'e500', 'truncated', 'hang', 'hugeheader'];
    const put = await api(
      'PUT',
      '/api/v1/streams/evil',
      JSON.stringify({
        state: 'live',
        originUrl: fake.url,
        renditions: MODES.map((name) => ({ name, bandwidth: 100000 })),
        targetDuration: 2,
      }),
      c.secret,
    );
    t.is(put.status, 200);
    const relay = c.relays[0]!.url;
    await waitFor(async () => (await fetch(`${relay}/live/evil/e500/index.m3u8`)).status !== 404, {
      what: 'relay knows the fake stream',
    });
    try {
      const cases: [string, string, (s: number, body: string) => boolean][] = [
        ['garbage', 'binary garbage as a playlist', (s) => s === 200],
        ['traversal', 'playlist whose URIs climb out of the stream', (s) => s === 200],
        ['e500', 'upstream answers 500', (s) => s === 502],
        ['truncated', 'body cut short of its Content-Length', (s) => s === 502 || s === 0],
        ['hang', 'upstream accepts and never answers', (s) => s === 504],
        ['hugeheader', 'upstream header of 60 KB', (s) => s === 200 || s === 502],
      ];
      for (const [m, name, statusOk] of cases) {
        const before = hitsOf.get(m) ?? 0;
        const get = async () => {
          try {
            const res = await fetch(`${relay}/live/evil/${m}/index.m3u8?session=x`, {
              signal: AbortSignal.timeout(8000),
            });
            return { status: res.status, body: await res.text(), cache: res.headers.get('x-ringcast-cache') };
          } catch {
            return { status: 0, body: '', cache: null };
          }
        };
        const first = await get();
        // Past the playlist lifetime, the next request must go upstream again unless the first was a success.
        await new Promise((r) => setTimeout(r, 1100));
        const second = await get();
        const refetched = (hitsOf.get(m) ?? 0) >= before + 2;
        let follow = '';
        if (m === 'traversal') {
          const r = await rawRequest(
            port('relay'),
            'GET /live/evil/traversal/%2e%2e/%2e%2e/x.m4s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
          );
          follow = `; following its URI: ${r.status}`;
        }
        const errorCached = first.status !== 200 && !refetched;
        const ok = statusOk(first.status, first.body) && !errorCached;
        log.add({
          group: 'malformed playlists / failures from upstream',
          target: 'relay',
          input: name,
          outcome: `${first.status || 'connection closed'}, then ${second.status || 'closed'}; ${refetched ? 'asked upstream again' : 'served from cache'}${follow}`,
          ok,
        });
        t.true(ok, `${name}: ${first.status} then ${second.status}, refetched ${refetched}`);
      }
    } finally {
      await api(
        'PUT',
        '/api/v1/streams/evil',
        JSON.stringify({ state: 'ended', originUrl: fake.url, renditions: [] }),
        c.secret,
      );
      fake.server.closeAllConnections();
      fake.server.close();
    }
    await allAlive(t);
  },
);

test.serial(
  'after all of it the live stream still plays through the relay with the origin bytes',
  async (t) => {
    const pl = await getText(`${c.relays[0]!.url}/live/demo/180p/index.m3u8`);
    const uri = pl
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .at(-1)!;
    const a = Buffer.from(await (await fetch(`${c.relays[0]!.url}/live/demo/180p/${uri}`)).arrayBuffer());
    const b = Buffer.from(await (await fetch(`${c.origin.url}/live/demo/180p/${uri}`)).arrayBuffer());
    t.true(a.equals(b));
    t.true(log.outcomes.length >= 50, `${log.outcomes.length} cases`);
    t.log(`${log.outcomes.length} cases, ${log.outcomes.filter((o) => !o.ok).length} not contained`);
    await allAlive(t);
  },
);
