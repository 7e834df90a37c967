import { randomBytes } from 'node:crypto';
import test from 'ava';
import type { TestCluster } from '../../harness/cluster.ts';
import { getText, sumMetric, waitFor } from '../../harness/wait.ts';
import { allAlive, api, fakeServer, hostileFile } from './hostile-cluster.ts';
import { OutcomeLog, rawRequest } from './hostile-kit.ts';

// Bad upstreams of a relay in one real cluster with a live stream: a fake ring member answering
// corrupt or truncated segments, and a fake origin answering malformed playlists or failing. The relay
// must stay up, give viewers only the origin's bytes, and never cache an error.
let c: TestCluster;
const log = new OutcomeLog();

const file = hostileFile('bad-upstreams', 1, log, (cluster) => {
  c = cluster;
});

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
        c,
        'POST',
        '/api/v1/relays/fake-relay/heartbeat',
        '{"load":{"viewers":0,"cacheBytes":0,"bytesServedTotal":0}}',
        c.secret,
      );
    const reg = await api(
      c,
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
      await api(c, 'DELETE', '/api/v1/relays/fake-relay', undefined, c.secret);
      fake.server.closeAllConnections();
      fake.server.close();
    }
    await allAlive(t, c);
  },
);

test.serial(
  'malformed playlists and failures from a fake origin: relay contained, errors never cached',
  async (t) => {
    // The relay alone in its ring (no ring member left by another case): it fills from the fake origin.
    await waitFor(
      async () => {
        const view = await c.cluster();
        const h = JSON.parse(await getText(`${c.relays[0]!.url}/healthz`));
        return view.ring.relays.length === c.relays.length && h.ringVersion === view.ring.version;
      },
      { what: 'the relay sees a ring of the real relays only' },
    );
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
      c,
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
            Number(new URL(relay).port),
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
        c,
        'PUT',
        '/api/v1/streams/evil',
        JSON.stringify({ state: 'ended', originUrl: fake.url, renditions: [] }),
        c.secret,
      );
      fake.server.closeAllConnections();
      fake.server.close();
    }
    await allAlive(t, c);
  },
);

file.endsPlaying();
