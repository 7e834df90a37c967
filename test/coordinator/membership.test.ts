import test from 'ava';
import { sumMetric, waitFor } from '../../harness/wait.ts';
import { call, heartbeat, registerRelay, SseClient, startCoordinator } from './helpers.ts';

test('register without the cluster secret: 401 RC_UNAUTHORIZED and the relay never joins', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());
  const body = { id: 'r1', url: 'http://127.0.0.1:9001' };
  for (const secret of [null, 'wrong-secret-12']) {
    const res = await call(`${c.url}/api/v1/relays`, { body, secret });
    t.is(res.status, 401);
    t.is(res.body.error.code, 'RC_UNAUTHORIZED');
  }
  const ring = await call(`${c.url}/api/v1/ring`);
  t.deepEqual(ring.body, { version: 0, relays: [] });
});

test('register, heartbeat, stop: the relay leaves the ring within 3 s, with a new version and a ring event', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());
  const reg = await registerRelay(c.url, 'r1', 'http://127.0.0.1:9001/', 2);
  t.is(reg.status, 200);
  t.deepEqual(reg.body.relay, { id: 'r1', url: 'http://127.0.0.1:9001', capacity: 2, state: 'active' });
  t.is(reg.body.heartbeatIntervalMs, 1000);
  t.is(reg.body.ring.version, 1);
  const sse = await SseClient.open(`${c.url}/api/v1/events`);
  t.teardown(() => sse.close());
  const snapshot = await sse.waitFor('snapshot');
  t.deepEqual(
    snapshot.ring.relays.map((r: { id: string }) => r.id),
    ['r1'],
  );

  const hb = await heartbeat(c.url, 'r1', 7);
  t.is(hb.status, 200);
  t.is(hb.body.ringVersion, 1);
  const lastBeat = Date.now();
  const cluster = await call(`${c.url}/api/v1/cluster`);
  t.deepEqual(cluster.body.ring.relays[0].load, { viewers: 7, cacheBytes: 0, bytesServedTotal: 0 });

  const event = await sse.waitFor('ring', (d) => d.relays.length === 0, 6000);
  const elapsed = Date.now() - lastBeat;
  t.true(elapsed <= 3000, `removed after ${elapsed} ms`);
  t.is(event.version, 2);
  const ring = await call(`${c.url}/api/v1/ring`);
  t.deepEqual(ring.body, { version: 2, relays: [] });
  // The relay learns it was dropped and registers again.
  const again = await heartbeat(c.url, 'r1');
  t.is(again.status, 404);
  t.is(again.body.error.code, 'RC_RELAY_NOT_FOUND');
});

test('drain keeps the relay in the ring as draining; delete removes it; each bumps the version', async (t) => {
  const c = await startCoordinator({ relayTimeoutMs: 60_000 });
  t.teardown(() => c.close());
  await registerRelay(c.url, 'r1', 'http://127.0.0.1:9001');
  await registerRelay(c.url, 'r2', 'http://127.0.0.1:9002');
  // Registering again with the same details is not a ring change.
  t.is((await registerRelay(c.url, 'r2', 'http://127.0.0.1:9002')).body.ring.version, 2);
  const drained = await call(`${c.url}/api/v1/relays/r1/drain`, { method: 'POST' });
  t.is(drained.status, 200);
  t.is(drained.body.relay.state, 'draining');
  let ring = (await call(`${c.url}/api/v1/ring`)).body;
  t.is(ring.version, 3);
  t.deepEqual(
    ring.relays.map((r: { id: string; state: string }) => `${r.id}:${r.state}`),
    ['r1:draining', 'r2:active'],
  );
  t.is((await call(`${c.url}/api/v1/relays/r2`, { method: 'DELETE' })).status, 200);
  ring = (await call(`${c.url}/api/v1/ring`)).body;
  t.is(ring.version, 4);
  t.is(ring.relays.length, 1);
  t.is((await call(`${c.url}/api/v1/relays/r2`, { method: 'DELETE' })).body.error.code, 'RC_RELAY_NOT_FOUND');
  t.is((await call(`${c.url}/api/v1/relays/nope/drain`, { method: 'POST' })).status, 404);
  t.is((await call(`${c.url}/api/v1/relays/r1/drain`, { method: 'POST', secret: null })).status, 401);

  const metrics = await (await fetch(`${c.url}/metrics`)).text();
  t.is(sumMetric(metrics, 'ringcast_coordinator_relays', { state: 'draining' }), 1);
  t.is(sumMetric(metrics, 'ringcast_coordinator_ring_version'), 4);
  const health = await call(`${c.url}/healthz`);
  t.is(health.body.status, 'ok');
  t.is(health.body.store.kind, 'memory');
});

test('close ends SSE streams and is idempotent; start is idempotent too', async (t) => {
  const c = await startCoordinator();
  t.deepEqual(await c.coordinator.start(), { url: c.url });
  const sse = await SseClient.open(`${c.url}/api/v1/events`);
  await sse.waitFor('snapshot');
  await Promise.all([c.close(), c.close()]);
  await c.close();
  await waitFor(() => sse.ended, { timeoutMs: 3000, what: 'SSE stream ended by close' });
  await waitFor(async () => (await fetch(`${c.url}/healthz`).catch(() => undefined)) === undefined, {
    timeoutMs: 3000,
    what: 'server closed',
  });
  sse.close();
  t.pass();
});
