import { once } from 'node:events';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { Agent, createServer, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import test from 'ava';
import { issueCert, openDemoCa } from '../../common/demo-ca.ts';
import { closeServer } from '../../common/http.ts';
import { silentLogger } from '../../common/log.ts';
import { loadPair, TlsFiles } from '../../common/tls-files.ts';

/** The fingerprint of the certificate a new TLS connection to `port` is shown (checked against `ca`). */
function presented(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', servername: 'localhost', ca }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

function get(port: number, agent: Agent, ca: Buffer): Promise<{ status: number; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent, ca, servername: 'localhost' }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a certificate renewed on disk reaches new connections; open ones go on; a bad pair is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ringcast-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ca = await openDemoCa(dir);
  t.is((await stat(ca.caKeyFile)).mode & 0o777, 0o600);
  const leaf = await issueCert(ca, 'edge', ['localhost', '127.0.0.1']);
  const caPem = await readFile(ca.caFile);
  const files = new TlsFiles({ ...leaf, log: silentLogger(), pollMs: 20 });
  const server = createServer(files.options, (_req, res) => res.end('ok'));
  server.keepAliveTimeout = 60_000;
  files.serve(server);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(async () => {
    files.close();
    agent.destroy();
    await closeServer(server);
    server.closeAllConnections();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as { port: number }).port;

  const first = await presented(port, caPem);
  t.is((await get(port, agent, caPem)).status, 200);

  const reloaded = once(files, 'reloaded');
  await issueCert(ca, 'edge', ['localhost', '127.0.0.1']);
  await reloaded;
  const second = await presented(port, caPem);
  t.not(second, first);
  const again = await get(port, agent, caPem);
  t.is(again.status, 200);
  t.true(again.reused, 'the connection opened before the renewal is still served');

  // A key that is not the certificate's: the previous pair stays.
  const other = await issueCert(ca, 'other', ['localhost']);
  const rejected = once(files, 'rejected');
  await copyFile(other.keyFile, leaf.keyFile);
  const [reason] = await rejected;
  t.regex(String(reason), /do not make a pair/);
  t.is(await presented(port, caPem), second);
});

test('a bad pair at start names the file and the problem', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ringcast-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'cert.pem'), 'not a certificate');
  t.throws(() => loadPair(join(dir, 'cert.pem'), join(dir, 'key.pem')), { message: /cert\.pem is not PEM/ });
  t.throws(() => loadPair(join(dir, 'missing.pem'), join(dir, 'key.pem')), {
    message: /missing\.pem: ENOENT/,
  });
});
