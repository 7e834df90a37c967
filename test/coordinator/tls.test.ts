/**
 * The coordinator over HTTPS (common/https-server.ts) with the demo CA: curl reads its API and a master
 * playlist whose steering URI is https; the relays' event stream works over TLS and outlives a renewal.
 */
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import test, { type ExecutionContext } from 'ava';
import { issueCert } from '../../common/demo-ca.ts';
import { SseParser } from '../../common/sse.ts';
import { loadCoordinatorConfig } from '../../coordinator/config.ts';
import { waitFor } from '../relay/helpers.ts';
import { curl, presented, type TestCa, testCa } from '../relay/tls-kit.ts';
import { RENDITIONS, SECRET, startCoordinator } from './helpers.ts';

async function tlsCoordinator(t: ExecutionContext, ca: TestCa) {
  const c = await startCoordinator({ tlsCert: ca.leaf.certFile, tlsKey: ca.leaf.keyFile });
  t.teardown(() => c.close());
  const port = Number(new URL(c.url).port);
  return { ...c, port, base: `https://localhost:${port}` };
}

/** A call with the cluster secret, through curl trusting only the test CA. */
function api(ca: TestCa, url: string, method: string, body: unknown) {
  const args = [
    '-X',
    method,
    '-H',
    `authorization: Bearer ${SECRET}`,
    '-H',
    'content-type: application/json',
  ];
  return curl(ca.ca.caFile, url, [...args, '--data', JSON.stringify(body)]);
}

/** Follows `/api/v1/events` over TLS; the event names seen so far. */
async function follow(t: ExecutionContext, base: string, ca: Buffer): Promise<string[]> {
  const events: string[] = [];
  const parser = new SseParser((event) => events.push(event));
  const req = request(`${base}/api/v1/events`, { ca, headers: { authorization: `Bearer ${SECRET}` } });
  req.on('error', () => {});
  t.teardown(() => req.destroy());
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  t.is(res.statusCode, 200);
  res.on('data', (chunk: Buffer) => parser.push(chunk.toString()));
  res.on('error', () => {});
  return events;
}

test('curl reads the API and a master whose steering URI is https; ALPN is http/1.1', async (t) => {
  const ca = await testCa(t);
  const c = await tlsCoordinator(t, ca);
  t.regex(c.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const health = await curl(ca.ca.caFile, `${c.base}/healthz`, ['--http2']);
  t.is(health.status, 200);
  t.is(health.version, '1.1');
  const relay = { id: 'r1', url: 'https://127.0.0.1:9001', capacity: 1 };
  t.is((await api(ca, `${c.base}/api/v1/relays`, 'POST', relay)).status, 200);
  const stream = {
    state: 'live',
    originUrl: 'http://127.0.0.1:9',
    renditions: RENDITIONS,
    targetDuration: 2,
  };
  t.is((await api(ca, `${c.base}/api/v1/streams/demo`, 'PUT', stream)).status, 200);
  const master = await curl(ca.ca.caFile, `${c.base}/live/demo/master.m3u8?session=s1`);
  t.is(master.status, 200);
  t.true(master.body.includes(`SERVER-URI="${c.base}/steer/demo?session=s1"`), master.body);
  t.true(master.body.includes('https://127.0.0.1:9001/live/demo/'), master.body);
});

test('the event stream runs over TLS and goes on across a certificate renewal', async (t) => {
  const ca = await testCa(t);
  const c = await tlsCoordinator(t, ca);
  const events = await follow(t, c.base, ca.caPem);
  await waitFor(() => events.includes('snapshot'), 5000, 'the snapshot');
  const before = await presented(c.port, ca.caPem);
  await ca.renew();
  await waitFor(
    async () => (await presented(c.port, ca.caPem)) !== before,
    10_000,
    'the renewed certificate',
  );
  const relay = { id: 'r2', url: 'https://127.0.0.1:9002', capacity: 1 };
  t.is((await api(ca, `${c.base}/api/v1/relays`, 'POST', relay)).status, 200);
  await waitFor(() => events.includes('ring'), 5000, 'a ring event on the stream opened before the renewal');
  t.pass();
});

test('a wrong key fails the start; cert and key go together', async (t) => {
  const ca = await testCa(t);
  const wrong = await issueCert(ca.ca, 'wrong', ['localhost']);
  await t.throwsAsync(startCoordinator({ tlsCert: ca.leaf.certFile, tlsKey: wrong.keyFile }), {
    message: /do not make a pair/,
  });
  const env = { RINGCAST_CLUSTER_SECRET: SECRET };
  t.throws(() => loadCoordinatorConfig(['--tls-cert', 'c.pem'], env), {
    message: /'tlsCert' and 'tlsKey' go together/,
  });
});
