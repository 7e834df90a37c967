/**
 * A relay's links over https with the cluster's CA (`tlsCa`, common/ca-fetch.ts): it registers with and
 * follows a coordinator over https, and fills from an origin over https; itself serving HTTPS.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { join } from 'node:path';
import test from 'ava';
import { ClusterTls } from '../../common/ca-fetch.ts';
import { listenHttps } from '../../common/https-server.ts';
import { silentLogger } from '../../common/log.ts';
import { Relay } from '../../relay/app.ts';
import { RENDITIONS, SECRET, startCoordinator } from '../coordinator/helpers.ts';
import { relayConfig, waitFor } from './helpers.ts';
import { curl, testCa } from './tls-kit.ts';

test('a relay trusting the cluster CA joins an https coordinator and fills from an https origin', async (t) => {
  const ca = await testCa(t);
  const segment = randomBytes(100_000);
  const pair = { cert: await readFile(ca.leaf.certFile), key: await readFile(ca.leaf.keyFile) };
  const origin = createServer(pair, (req, res) => {
    if (req.url === '/live/demo/720p/1.m4s')
      res.writeHead(200, { 'content-length': segment.length }).end(segment);
    else res.writeHead(404).end();
  });
  const originUrl = (await listenHttps(origin, 0, '127.0.0.1')).replace('127.0.0.1', 'localhost');
  t.teardown(async () => {
    origin.closeAllConnections();
    await new Promise((done) => origin.close(done));
  });
  const c = await startCoordinator({ tlsCert: ca.leaf.certFile, tlsKey: ca.leaf.keyFile });
  t.teardown(() => c.close());
  const coordinatorUrl = c.url.replace('127.0.0.1', 'localhost');
  const relay = new Relay(
    relayConfig({
      coordinatorUrl,
      clusterSecret: SECRET,
      tlsCa: ca.ca.caFile,
      tlsCert: ca.leaf.certFile,
      tlsKey: ca.leaf.keyFile,
      heartbeatIntervalMs: 200,
    }),
    { log: silentLogger() },
  );
  t.teardown(() => relay.close());
  const { url } = await relay.start();
  const stream = { state: 'live', originUrl, renditions: RENDITIONS, targetDuration: 2 };
  const auth = ['-H', `authorization: Bearer ${SECRET}`, '-H', 'content-type: application/json'];
  const put = await curl(ca.ca.caFile, `${coordinatorUrl}/api/v1/streams/demo`, [
    ...auth,
    '-X',
    'PUT',
    '--data',
    JSON.stringify(stream),
  ]);
  t.is(put.status, 200);
  const ring = async () => (await curl(ca.ca.caFile, `${coordinatorUrl}/api/v1/ring`)).body;
  await waitFor(async () => (await ring()).includes(url), 10_000, 'the relay in the ring');
  const base = url.replace('127.0.0.1', 'localhost');
  let got = { status: 0, headers: new Map<string, string>() };
  await waitFor(
    async () => {
      got = await curl(ca.ca.caFile, `${base}/live/demo/720p/1.m4s`, ['--http2', '-o', '/dev/null']);
      return got.status !== 404;
    },
    10_000,
    'the stream known to the relay (event stream over https)',
  );
  t.is(got.status, 200);
  t.is(got.headers.get('content-length'), String(segment.length));
});

test('the cluster CA is the only one trusted for https links; a missing CA file fails the load', async (t) => {
  const ca = await testCa(t);
  const pair = { cert: await readFile(ca.leaf.certFile), key: await readFile(ca.leaf.keyFile) };
  const server = createServer(pair, (_req, res) => res.end('ok'));
  const url = (await listenHttps(server, 0, '127.0.0.1')).replace('127.0.0.1', 'localhost');
  const links = new ClusterTls(ca.ca.caFile);
  t.teardown(async () => {
    links.destroy();
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });
  links.load();
  t.is(await (await links.fetch(`${url}/x`)).text(), 'ok');
  await t.throwsAsync(fetch(`${url}/x`), undefined, 'the system CAs do not know the cluster CA');
  const other = await testCa(t);
  const strangers = new ClusterTls(other.ca.caFile);
  strangers.load();
  t.teardown(() => strangers.destroy());
  await t.throwsAsync(strangers.fetch(`${url}/x`), { message: /self-signed|unable to verify|certificate/i });
  t.throws(() => new ClusterTls(join(ca.ca.dir, 'missing.pem')).load(), { message: /missing\.pem: ENOENT/ });
});
