/**
 * Strangers making up viewer sessions at the coordinator's viewer entry (master playlist, steering):
 * they must not pile sessions onto one relay, nor grow the coordinator's memory, nor push real viewers out.
 */
import { request } from 'node:http';
import test, { type ExecutionContext } from 'ava';
import type { CoordinatorConfig } from '../../coordinator/config.ts';
import { getText, sumMetric } from '../../harness/wait.ts';
import {
  call,
  type Json,
  putStream,
  registerRelay,
  segmentBody,
  startCoordinator,
} from '../coordinator/helpers.ts';

/** GET from a given local address (any 127.x address reaches a loopback server on Linux). */
function get(
  url: string,
  localAddress: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A coordinator with three equal relays (no heartbeats needed) and a live stream `demo`. */
async function cluster(
  t: ExecutionContext,
  overrides: Partial<Record<keyof CoordinatorConfig, unknown>> = {},
) {
  const c = await startCoordinator({ relayTimeoutMs: 600_000, ...overrides });
  t.teardown(() => c.close());
  for (let i = 1; i <= 3; i++)
    t.is((await registerRelay(c.url, `r${i}`, `http://127.0.0.1:${9000 + i}`)).status, 200);
  t.is((await putStream(c.url, 'demo')).status, 200);
  // A segment of each rendition, in case a master waits for them.
  for (const rendition of ['720p', '360p'])
    await call(`${c.url}/api/v1/streams/demo/segments`, { body: { ...segmentBody('demo', 1), rendition } });
  const metric = async (name: string) =>
    sumMetric(await getText(`${c.url}/metrics`), `ringcast_coordinator_${name}`);
  return { ...c, metric };
}

/** The cap of viewer-balancer.ts for equal weights, once `placed` sessions are placed on `relays`. */
const cap = (placed: number, relays: number, loadFactor = 1.1) =>
  Math.max(Math.ceil(placed / relays), Math.floor((loadFactor * placed) / relays));

const primaryOf = (manifest: Json): string => manifest['PATHWAY-PRIORITY'][0];
const masterPathway = (text: string) => /PATHWAY-ID="([^"]+)"/.exec(text)?.[1];

test('made-up sessions that all claim to play from r1 never put r1 above its bounded-load cap', async (t) => {
  const c = await cluster(t);
  const counts = new Map<string, number>();
  const over: string[] = [];
  for (let n = 1; n <= 240; n++) {
    const m = await call(`${c.url}/steer/demo?session=made-up-${n}&_HLS_pathway=r1`);
    t.is(m.status, 200);
    const p = primaryOf(m.body);
    counts.set(p, (counts.get(p) ?? 0) + 1);
    if ((counts.get('r1') ?? 0) > cap(n, 3)) over.push(`${counts.get('r1')} on r1 after ${n}`);
  }
  t.deepEqual(over, [], 'r1 within its cap after every session');
  t.is(counts.get('r1'), cap(240, 3), 'r1 took sessions up to its cap (adoption still works)');
  t.true((counts.get('r2') ?? 0) > 0 && (counts.get('r3') ?? 0) > 0, JSON.stringify([...counts]));
  // Sessions already placed keep their relay whatever pathway they claim later.
  const first = primaryOf((await call(`${c.url}/steer/demo?session=made-up-1&_HLS_pathway=r2`)).body);
  t.is(first, 'r1');
});

test('made-up session ids from one address are placed but not remembered past sessionsMaxPerAddress', async (t) => {
  const c = await cluster(t, { sessionsMaxPerAddress: 50 });
  // A real viewer from another address, placed before the flood.
  const real = await get(`${c.url}/live/demo/master.m3u8?session=real-viewer`, '127.0.0.2');
  t.is(real.status, 200);
  const realRelay = masterPathway(real.text);
  for (let i = 0; i < 200; i++) {
    // Half of them claim another client in X-Forwarded-For: no proxy is trusted, so it counts for nothing.
    const spoof: Record<string, string> = i % 2 ? { 'x-forwarded-for': `10.0.${i}.1` } : {};
    const a = await get(`${c.url}/live/demo/master.m3u8?session=flood-${i}`, '127.0.0.1', spoof);
    t.is(a.status, 200, 'a session past the bound still gets a playable master');
    t.truthy(masterPathway(a.text));
  }
  t.is(await c.metric('viewer_sessions'), 51, 'the flooding address holds 50 sessions, the real viewer 1');
  t.is(await c.metric('sessions_not_remembered_total'), 150);
  // The real viewer keeps its relay; a viewer from a third address is still remembered.
  const steer = await get(`${c.url}/steer/demo?session=real-viewer&_HLS_pathway=${realRelay}`, '127.0.0.2');
  t.is(primaryOf(JSON.parse(steer.text)), realRelay as string);
  t.is((await get(`${c.url}/live/demo/master.m3u8?session=other-viewer`, '127.0.0.3')).status, 200);
  t.is(await c.metric('viewer_sessions'), 52);
  // Unremembered steering requests from the flooding address neither grow the count nor fail.
  const s = await get(`${c.url}/steer/demo?session=flood-199&_HLS_pathway=r2`, '127.0.0.1');
  t.is(s.status, 200);
  t.is(await c.metric('viewer_sessions'), 52);
});

test('behind a trusted proxy, sessions are bounded per forwarded client, not per proxy', async (t) => {
  const c = await cluster(t, { sessionsMaxPerAddress: 50, trustedProxies: ['127.0.0.1'] });
  for (let i = 0; i < 60; i++) {
    const headers = { 'x-forwarded-for': `203.0.113.${i}` };
    t.is((await get(`${c.url}/live/demo/master.m3u8?session=viewer-${i}`, '127.0.0.1', headers)).status, 200);
  }
  t.is(await c.metric('viewer_sessions'), 60, 'sixty clients behind one proxy, each remembered');
  // One forwarded client making up ids is still bounded.
  for (let i = 0; i < 60; i++) {
    const headers = { 'x-forwarded-for': '198.51.100.1' };
    await get(`${c.url}/live/demo/master.m3u8?session=made-up-${i}`, '127.0.0.1', headers);
  }
  t.is(await c.metric('viewer_sessions'), 110);
  t.is(await c.metric('sessions_not_remembered_total'), 10);
});
