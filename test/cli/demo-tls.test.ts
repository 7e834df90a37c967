import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import test from 'ava';
import { DEMO_CONFIG, DemoSpawns } from '../../cli/demo.ts';
import { type DemoTls, demoTlsEnv, demoTlsHosts, prepareDemoTls, trustLines } from '../../cli/demo-tls.ts';
import { listeningInfo, type PartProcess } from '../../cli/part-process.ts';
import { loadConfig } from '../../common/config.ts';
import { closeServer, listen } from '../../common/http.ts';
import { silentLogger } from '../../common/log.ts';
import { Origin } from '../../origin/app.ts';
import { loadOriginConfig } from '../../origin/config.ts';

// `ringcast demo --tls true`: the CA and certificate it makes in DATA_DIR/tls/, the flags it gives each
// part (none without --tls), and an origin started with the demo's origin flags serving RTMPS with them.
const dir = mkdtempSync(join(tmpdir(), 'ringcast-demo-tls-'));
let tls: DemoTls;

test.before(async () => {
  tls = await prepareDemoTls(dir, '127.0.0.1');
});

test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const spawnsOf = (argv: string[], withTls?: DemoTls) =>
  new DemoSpawns(loadConfig(DEMO_CONFIG, argv, {}), dir, {}, withTls);

test.serial(
  'the CA is DATA_DIR/tls/ca.pem, keys are 0600, the certificate names loopback and verifies',
  (t) => {
    t.is(tls.caFile, join(dir, 'tls', 'ca.pem'));
    t.is(statSync(tls.keyFile).mode & 0o777, 0o600);
    t.is(statSync(join(dir, 'tls', 'ca-key.pem')).mode & 0o777, 0o600);
    const leaf = new X509Certificate(readFileSync(tls.certFile));
    const ca = new X509Certificate(readFileSync(tls.caFile));
    t.true(leaf.verify(ca.publicKey), 'signed by the demo CA');
    t.true(leaf.checkIssued(ca));
    t.is(leaf.checkIP('127.0.0.1'), '127.0.0.1');
    t.is(leaf.checkHost('localhost'), 'localhost');
    t.is(leaf.checkHost('example.com'), undefined);
  },
);

test.serial(
  'a second run reuses the CA (a browser trusts it once) and issues the parts a new certificate',
  async (t) => {
    const caBefore = readFileSync(tls.caFile, 'utf8');
    const leafBefore = new X509Certificate(readFileSync(tls.certFile)).serialNumber;
    const again = await prepareDemoTls(dir, 'demo.example');
    t.is(readFileSync(again.caFile, 'utf8'), caBefore);
    const leaf = new X509Certificate(readFileSync(again.certFile));
    t.not(leaf.serialNumber, leafBefore);
    t.is(leaf.checkHost('demo.example'), 'demo.example');
    tls = await prepareDemoTls(dir, '127.0.0.1');
  },
);

test('a wildcard bind is not a name on the certificate', (t) => {
  t.deepEqual(demoTlsHosts('0.0.0.0'), ['localhost', '127.0.0.1', '::1']);
  t.deepEqual(demoTlsHosts('[::]'), ['localhost', '127.0.0.1', '::1']);
  t.deepEqual(demoTlsHosts('10.0.0.5'), ['10.0.0.5', 'localhost', '127.0.0.1', '::1']);
});

test('without --tls no part gets a TLS flag or the CA in its environment (a plain demo is unchanged)', (t) => {
  const spawns = spawnsOf([]);
  const all = [
    spawns.coordinator(undefined),
    spawns.origin('http://c', 'k', undefined),
    spawns.relay(0, 'http://c', undefined),
  ];
  for (const s of all) {
    t.false(
      (s.args ?? []).some((a) => /^--(tls|rtmps)/.test(a)),
      `${s.part}: ${(s.args ?? []).join(' ')}`,
    );
    t.is(s.env?.NODE_EXTRA_CA_CERTS, undefined);
  }
});

test('with --tls: the coordinator gets the pair, relays the pair and the CA, the origin the pair and its RTMPS port', (t) => {
  const spawns = spawnsOf(['--tls', 'true', '--rtmps-port', '1999'], tls);
  const pair = ['--tls-cert', tls.certFile, '--tls-key', tls.keyFile];
  const tail = (args: string[] = [], n = 6) => args.slice(args.length - n);
  t.deepEqual(tail(spawns.coordinator(undefined).args, 4), pair);
  t.false(spawns.coordinator(undefined).args?.includes('--tls-ca'), 'the coordinator has no tlsCa key');
  t.deepEqual(tail(spawns.relay(1, 'https://c', undefined).args, 6), [...pair, '--tls-ca', tls.caFile]);
  t.deepEqual(tail(spawns.origin('https://c', 'k', undefined).args, 6), [...pair, '--rtmps-port', '1999']);
});

test("a restarted origin keeps its RTMPS port, read from the origin's listening line", (t) => {
  const line = { msg: 'listening', url: 'http://127.0.0.1:5', rtmpUrl: 'rtmp://127.0.0.1:6/live' };
  const prev = listeningInfo({ ...line, rtmpsUrl: 'rtmps://127.0.0.1:40001/live' }) as PartProcess;
  t.is(prev.rtmpsUrl, 'rtmps://127.0.0.1:40001/live');
  const args =
    spawnsOf(['--tls', 'true', '--rtmps-port', '0'], tls).origin('https://c', 'k', prev).args ?? [];
  t.deepEqual(args.slice(-2), ['--rtmps-port', '40001']);
  t.false('rtmpsUrl' in (listeningInfo(line) ?? {}), 'a plain origin has no RTMPS URL');
});

test('the trust lines name the CA file for curl, Chromium and the system store', (t) => {
  const lines = trustLines(tls);
  t.is(lines.length, 3);
  for (const line of lines) t.true(line.includes(tls.caFile), line);
  t.regex(lines[0]!, /curl --cacert /);
});

test.serial(
  "an origin started with the demo's origin flags serves RTMPS with the demo certificate",
  async (t) => {
    const args = spawnsOf(['--tls', 'true', '--source', 'rtmp'], tls).origin(
      'http://127.0.0.1:1',
      'k',
      undefined,
    ).args;
    const config = loadOriginConfig(
      args,
      {},
      {
        port: 0,
        rtmpPort: 0,
        rtmpsPort: 0,
        coordinatorUrl: '',
        streamKey: 'demo-key',
        dataDir: join(dir, 'origin'),
      },
    );
    t.is(config.tlsCert, tls.certFile);
    const origin = new Origin(config, { log: silentLogger() });
    t.teardown(() => origin.close());
    const { rtmpsUrl } = await origin.start();
    const port = Number(new URL(rtmpsUrl!.replace(/^rtmps:/, 'http:')).port);
    const subject = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect(
        { port, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(tls.caFile) },
        () => {
          resolve(String(socket.getPeerCertificate().subject.CN));
          socket.destroy();
        },
      );
      socket.once('error', reject);
    });
    t.is(subject, '127.0.0.1', 'the demo certificate, verified against the demo CA for localhost');
  },
);

test.serial(
  "a part's fetch (announcements, key checks) trusts the demo CA through the environment the demo gives",
  async (t) => {
    const server = createHttpsServer(
      { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) },
      (_req, res) => res.end('ok'),
    );
    const url = (await listen(server, 0, '127.0.0.1')).replace(/^http:/, 'https:');
    t.teardown(() => closeServer(server));
    const script = `fetch(${JSON.stringify(url)}).then((r) => r.text()).then(console.log, (e) => { console.log(e.cause?.code ?? e.message); })`;
    const run = (env: NodeJS.ProcessEnv) =>
      promisify(execFile)(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, ...env } });
    t.is((await run(demoTlsEnv(tls))).stdout.trim(), 'ok');
    t.regex((await run({})).stdout, /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/, 'without it the CA is not trusted');
  },
);
