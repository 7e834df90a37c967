import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parseMaster } from '../../harness/master.ts';
import { sumMetric, waitFor } from '../../harness/wait.ts';
import { call, heartbeat, putStream, registerRelay, startCoordinator } from './helpers.ts';

async function cluster(t: import('ava').ExecutionContext, relays = 3) {
  const c = await startCoordinator({ relayTimeoutMs: 60_000 });
  t.teardown(() => c.close());
  for (let i = 1; i <= relays; i++) await registerRelay(c.url, `r${i}`, `http://127.0.0.${i}:${9000 + i}`);
  await putStream(c.url, 'demo');
  return c;
}

/** Attributes of one tag line (quoted values unquoted). */
async function master(url: string) {
  const res = await fetch(url);
  return { res, text: await res.text() };
}

test('master playlist parses, carries content steering and stable variant ids, and points at a relay', async (t) => {
  const c = await cluster(t);
  const { res, text } = await master(`${c.url}/live/demo/master.m3u8?session=viewer1`);
  t.is(res.status, 200);
  t.is(res.headers.get('cache-control'), 'no-store');
  t.regex(res.headers.get('content-type') ?? '', /mpegurl/);
  const playlist = parseMaster(text);
  t.true(playlist.isMasterPlaylist);
  const steering = playlist.contentSteering!;
  t.is(steering.serverUri, `${c.url}/steer/demo?session=viewer1`);
  t.regex(steering.pathwayId, /^r[123]$/);
  const primary = steering.pathwayId;
  const port = 9000 + Number(primary.slice(1));
  t.deepEqual(
    playlist.variants.map((v) => v.stableVariantId),
    ['720p', '360p'],
  );
  for (const v of playlist.variants) {
    t.is(v.pathwayId, primary);
    t.is(v.uri, `http://127.0.0.${primary.slice(1)}:${port}/live/demo/${v.stableVariantId}/index.m3u8`);
  }
  const [hd] = playlist.variants;
  t.is(hd!.bandwidth, 3_300_000);
  t.is(hd!.averageBandwidth, 3_000_000);
  t.deepEqual(hd!.resolution, { width: 1280, height: 720 });
  t.is(hd!.codecs, 'avc1.64001f,mp4a.40.2');
  t.is(hd!.frameRate, 30);
  // Same session, same relay.
  const again = parseMaster((await master(`${c.url}/live/demo/master.m3u8?session=viewer1`)).text);
  t.is(again.contentSteering!.pathwayId, primary);
  // Without a session one is made up, and the steering URI carries it.
  const anon = parseMaster((await master(`${c.url}/live/demo/master.m3u8`)).text);
  t.regex(anon.contentSteering!.serverUri, /\/steer\/demo\?session=[0-9a-f-]{36}$/);
  const metrics = await (await fetch(`${c.url}/metrics`)).text();
  t.is(sumMetric(metrics, 'ringcast_coordinator_sessions_assigned_total'), 2);
});

test('steering manifest: every active relay in the session order, clones with per-variant URIs', async (t) => {
  const c = await cluster(t);
  const m = parseMaster((await master(`${c.url}/live/demo/master.m3u8?session=s1`)).text);
  const base = m.contentSteering!.pathwayId;
  const res = await call(`${c.url}/steer/demo?session=s1`);
  t.is(res.status, 200);
  t.is(res.headers.get('cache-control'), 'no-store');
  const manifest = res.body;
  t.is(manifest.VERSION, 1);
  t.is(manifest.TTL, 5);
  t.is(manifest['RELOAD-URI'], `${c.url}/steer/demo?session=s1`);
  t.is(manifest['PATHWAY-PRIORITY'][0], base);
  t.deepEqual([...manifest['PATHWAY-PRIORITY']].sort(), ['r1', 'r2', 'r3']);
  const clones = manifest['PATHWAY-CLONES'];
  t.deepEqual(
    clones.map((x: { ID: string }) => x.ID).sort(),
    ['r1', 'r2', 'r3'].filter((id) => id !== base),
  );
  for (const clone of clones) {
    const n = clone.ID.slice(1);
    t.is(clone['BASE-ID'], base);
    t.is(clone['URI-REPLACEMENT'].HOST, `127.0.0.${n}`);
    t.deepEqual(clone['URI-REPLACEMENT']['PER-VARIANT-URIS'], {
      '720p': `http://127.0.0.${n}:${9000 + Number(n)}/live/demo/720p/index.m3u8`,
      '360p': `http://127.0.0.${n}:${9000 + Number(n)}/live/demo/360p/index.m3u8`,
    });
  }
});

test('a draining or dead relay is absent from the steering manifest at once', async (t) => {
  const c = await cluster(t);
  const m = parseMaster((await master(`${c.url}/live/demo/master.m3u8?session=s2`)).text);
  const base = m.contentSteering!.pathwayId;
  await call(`${c.url}/api/v1/relays/${base}/drain`, { method: 'POST' });
  let manifest = (await call(`${c.url}/steer/demo?session=s2`)).body;
  t.false(manifest['PATHWAY-PRIORITY'].includes(base));
  t.is(manifest['PATHWAY-PRIORITY'].length, 2);
  // The master's pathway stays the base every clone is made from.
  for (const clone of manifest['PATHWAY-CLONES']) t.is(clone['BASE-ID'], base);
  const next = manifest['PATHWAY-PRIORITY'][0];
  await call(`${c.url}/api/v1/relays/${next}`, { method: 'DELETE' });
  manifest = (await call(`${c.url}/steer/demo?session=s2`)).body;
  t.is(manifest['PATHWAY-PRIORITY'].length, 1);
  t.false(manifest['PATHWAY-PRIORITY'].includes(next));
  t.false(manifest['PATHWAY-CLONES'].some((x: { ID: string }) => x.ID === next || x.ID === base));
  // New masters never start on the draining relay.
  const fresh = parseMaster((await master(`${c.url}/live/demo/master.m3u8?session=s3`)).text);
  t.is(fresh.contentSteering!.pathwayId, manifest['PATHWAY-PRIORITY'][0]);
});

test('unknown stream is 404 RC_STREAM_NOT_FOUND; no active relay is 503 RC_NO_RELAY', async (t) => {
  const c = await cluster(t, 0);
  const unknown = await call(`${c.url}/live/ghost/master.m3u8`);
  t.is(unknown.status, 404);
  t.is(unknown.body.error.code, 'RC_STREAM_NOT_FOUND');
  t.is((await call(`${c.url}/steer/ghost?session=a`)).body.error.code, 'RC_STREAM_NOT_FOUND');
  await call(`${c.url}/api/v1/streams/empty`, {
    method: 'PUT',
    body: { state: 'idle', originUrl: 'http://127.0.0.1:9999', renditions: [] },
  });
  const empty = await call(`${c.url}/live/empty/master.m3u8`);
  t.is(empty.status, 404);
  t.regex(empty.body.error.message, /no renditions/);
  const none = await call(`${c.url}/live/demo/master.m3u8?session=a`);
  t.is(none.status, 503);
  t.is(none.body.error.code, 'RC_NO_RELAY');
  await registerRelay(c.url, 'r1', 'http://127.0.0.1:9001');
  await call(`${c.url}/api/v1/relays/r1/drain`, { method: 'POST' });
  t.is((await call(`${c.url}/steer/demo?session=a`)).status, 503);
});

test('dashboard, player files and hls.js are served; nothing outside the player folder', async (t) => {
  const c = await cluster(t, 0);
  const dash = await fetch(`${c.url}/`);
  t.is(dash.status, 200);
  t.regex(dash.headers.get('content-type') ?? '', /text\/html/);
  t.regex(await dash.text(), /EventSource/);
  const hls = await fetch(`${c.url}/player/hls.min.js`);
  t.is(hls.status, 200);
  t.regex(hls.headers.get('content-type') ?? '', /javascript/);
  await hls.arrayBuffer();
  const redirect = await fetch(`${c.url}/player?stream=demo`, { redirect: 'manual' });
  t.is(redirect.status, 301);
  t.is(redirect.headers.get('location'), '/player/?stream=demo');
  t.is((await call(`${c.url}/player/nope.html`)).status, 404);
});

test('publicUrl, when set, is the base of the steering URI and RELOAD-URI', async (t) => {
  const c = await startCoordinator({ publicUrl: 'https://watch.example.com/' });
  t.teardown(() => c.close());
  await registerRelay(c.url, 'r1', 'http://127.0.0.1:9001');
  await putStream(c.url, 'demo');
  const m = parseMaster((await master(`${c.url}/live/demo/master.m3u8?session=p1`)).text);
  t.is(m.contentSteering!.serverUri, 'https://watch.example.com/steer/demo?session=p1');
  // hls.js adds its own query parameters to steering requests; they are ignored.
  const res = await call(`${c.url}/steer/demo?session=p1&_HLS_pathway=r1&_HLS_throughput=5000000`);
  t.is(res.body['RELOAD-URI'], 'https://watch.example.com/steer/demo?session=p1');
  t.deepEqual(res.body['PATHWAY-PRIORITY'], ['r1']);
  t.deepEqual(res.body['PATHWAY-CLONES'], []);
});

test('player files come from playerDir, index.html for the folder, only known file types', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-player-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'js'));
  writeFileSync(join(dir, 'index.html'), '<h1>player</h1>');
  writeFileSync(join(dir, 'js', 'app.js'), 'void 0;');
  writeFileSync(join(dir, 'secret.key'), 'nope');
  const c = await startCoordinator({ playerDir: dir });
  t.teardown(() => c.close());
  t.is(await (await fetch(`${c.url}/player/`)).text(), '<h1>player</h1>');
  const js = await fetch(`${c.url}/player/js/app.js`);
  t.regex(js.headers.get('content-type') ?? '', /javascript/);
  t.is(await js.text(), 'void 0;');
  t.is((await call(`${c.url}/player/secret.key`)).status, 404);
  t.is((await call(`${c.url}/player/js`)).status, 404);
});

test('a relay whose heartbeats stop leaves the steering manifest once it times out', async (t) => {
  const c = await startCoordinator({ relayTimeoutMs: 1000 });
  t.teardown(() => c.close());
  await registerRelay(c.url, 'r1', 'http://127.0.0.1:9001');
  await registerRelay(c.url, 'r2', 'http://127.0.0.1:9002');
  await putStream(c.url, 'demo');
  const beating = new Set(['r1', 'r2']);
  const beats = (async () => {
    while (beating.size > 0) {
      await Promise.all([...beating].map((id) => heartbeat(c.url, id)));
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  t.teardown(async () => {
    beating.clear();
    await beats;
  });
  const first = (await call(`${c.url}/steer/demo?session=t1`)).body;
  t.deepEqual([...first['PATHWAY-PRIORITY']].sort(), ['r1', 'r2']);
  beating.delete('r1');
  const after = await waitFor(
    async () => {
      const m = (await call(`${c.url}/steer/demo?session=t1`)).body;
      return m['PATHWAY-PRIORITY'].length === 1 ? m : undefined;
    },
    { timeoutMs: 5000, intervalMs: 50, what: 'r1 gone from the manifest' },
  );
  t.deepEqual(after['PATHWAY-PRIORITY'], ['r2']);
  t.false(after['PATHWAY-CLONES'].some((x: { ID: string }) => x.ID === 'r1'));
});

test('a steering request for a session this coordinator never saw clones from the pathway the player is on', async (t) => {
  const c = await cluster(t);
  const m = (await call(`${c.url}/steer/demo?session=elsewhere&_HLS_pathway=r2&_HLS_throughput=100`)).body;
  t.deepEqual(
    m['PATHWAY-CLONES'].map((x: { 'BASE-ID': string }) => x['BASE-ID']),
    ['r2', 'r2'],
  );
  t.false(m['PATHWAY-CLONES'].some((x: { ID: string }) => x.ID === 'r2'));
  // The base stays the same for that session afterwards, whatever pathway the player moves to.
  const again = (await call(`${c.url}/steer/demo?session=elsewhere&_HLS_pathway=r3`)).body;
  t.is(again['PATHWAY-CLONES'][0]['BASE-ID'], 'r2');
});
