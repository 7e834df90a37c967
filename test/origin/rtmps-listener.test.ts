import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import test from 'ava';
import { issueCert, openDemoCa } from '../../common/demo-ca.ts';
import { silentLogger } from '../../common/log.ts';
import { TlsFiles } from '../../common/tls-files.ts';
import { waitFor } from '../../harness/wait.ts';
import { loadOriginConfig } from '../../origin/config.ts';
import { RtmpsListener } from '../../origin/rtmps-listener.ts';

// The RTMPS terminator alone: handshakes in progress are limited like unadmitted RTMP connections, a
// finished one is handed on and stops counting; and the config keys that switch it on.
const dir = mkdtempSync(join(tmpdir(), 'ringcast-rtmps-listener-'));
const refused: string[] = [];
const handedOn: TLSSocket[] = [];
const opened: Socket[] = [];
let listener: RtmpsListener;
let tls: TlsFiles;
let caPem: Buffer;

test.before(async () => {
  const ca = await openDemoCa(dir);
  caPem = readFileSync(ca.caFile);
  const cert = await issueCert(ca, 'origin', ['127.0.0.1']);
  tls = new TlsFiles({ certFile: cert.certFile, keyFile: cert.keyFile, log: silentLogger() });
  listener = new RtmpsListener({
    host: '127.0.0.1',
    port: 0,
    tls,
    log: silentLogger(),
    pendingLimits: { perAddress: 2, total: 10 },
    onSocket: (s) => handedOn.push(s),
    onRefused: (reason) => refused.push(reason),
  });
  await listener.start();
});

test.after.always(async () => {
  for (const s of opened) s.destroy();
  await listener?.close();
  tls?.close();
  rmSync(dir, { recursive: true, force: true });
});

const open = () => {
  const s = netConnect(listener.port, '127.0.0.1');
  s.on('error', () => {});
  opened.push(s);
  return s;
};

test.serial(
  'a third handshake in progress from one address is closed at once; a finished one is handed on',
  async (t) => {
    const [a, b] = [open(), open()];
    await waitFor(() => listener.handshakes === 2, { what: 'two handshakes counted' });
    const third = open();
    await new Promise((resolve) => third.once('close', resolve));
    t.deepEqual(refused, ['too_many_connections']);
    a.destroy();
    await waitFor(() => listener.handshakes === 1, { what: 'a closed one no longer counted' });
    const secure = tlsConnect({ port: listener.port, host: '127.0.0.1', ca: caPem });
    opened.push(secure);
    await new Promise((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    await waitFor(() => handedOn.length === 1, { what: 'the TLS connection handed on' });
    t.is(listener.handshakes, 1, 'the finished handshake no longer counts; the idle one still does');
    b.destroy();
    await waitFor(() => listener.handshakes === 0, { what: 'nothing counted' });
  },
);

test('tlsCert and tlsKey go together, exist, and RTMPS takes a port of its own', (t) => {
  const load = (o: Record<string, unknown>) => () => loadOriginConfig([], {}, { source: 'testsrc', ...o });
  t.throws(load({ tlsCert: join(dir, 'origin.pem') }), { message: /'tlsCert' and 'tlsKey' go together/ });
  t.throws(load({ tlsCert: join(dir, 'none.pem'), tlsKey: join(dir, 'origin-key.pem') }), {
    message: /'tlsCert' .*none\.pem does not exist/,
  });
  const same = { tlsCert: join(dir, 'origin.pem'), tlsKey: join(dir, 'origin-key.pem'), rtmpPort: 1940 };
  t.throws(load({ ...same, rtmpsPort: 1940 }), { message: /'rtmpsPort' must differ from rtmpPort/ });
  t.is(load(same)().rtmpsPort, 1936);
  t.is(loadOriginConfig([], {}, { source: 'testsrc' }).tlsCert, '', 'no certificate: no RTMPS');
});
