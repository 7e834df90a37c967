import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import test from 'ava';
import { type DemoCa, type IssuedCert, issueCert, openDemoCa } from '../../common/demo-ca.ts';
import { publisherArgs, runFfmpeg } from '../../harness/ffmpeg.ts';
import { FuzzRandom } from '../../harness/rtmp-fuzz-cases.ts';
import { chunk, handshake } from '../../harness/rtmp-fuzz-chunks.ts';
import { getText, sumMetric, waitFor } from '../../harness/wait.ts';
import { publisherPool, segmentsIn, startOrigin } from './origin-kit.ts';

// RTMPS ingest with the demo CA: ffmpeg verifies the origin's certificate, a wrong key is refused as over
// RTMP, bytes that are not TLS close only their connection, and a renewed certificate is used for new
// connections. The tests run in order on one origin.
const KEY = `key${process.pid}x${Date.now()}`;
const dir = mkdtempSync(join(tmpdir(), 'ringcast-rtmps-'));
const publishers = publisherPool();
let ca: DemoCa;
let cert: IssuedCert;
let origin: Awaited<ReturnType<typeof startOrigin>>;

test.before(async () => {
  ca = await openDemoCa(join(dir, 'tls'));
  cert = await issueCert(ca, 'origin', ['127.0.0.1', 'localhost']);
  origin = await startOrigin({
    source: 'rtmp',
    streamKey: KEY,
    rtmpsPort: 0,
    tlsCert: cert.certFile,
    tlsKey: cert.keyFile,
  });
});

test.after.always(async () => {
  publishers.killAll();
  await origin?.origin.close();
  rmSync(dir, { recursive: true, force: true });
});

const rtmpsPort = () => Number(new URL(origin.rtmpsUrl!.replace(/^rtmps:/, 'http:')).port);
const metric = async (name: string, labels: Record<string, string> = {}) =>
  sumMetric(await getText(`${origin.url}/metrics`), name, labels);

/** ffmpeg publishing over RTMPS, checking the certificate against `caFile`. */
function publishRtmps(key: string, caFile: string, seconds?: number) {
  const args = publisherArgs(`${origin.rtmpsUrl}/${key}`, { seconds });
  // The TLS options go with the output: ffmpeg hands them from rtmp to its tls protocol.
  args.splice(args.length - 3, 0, '-tls_verify', '1', '-ca_file', caFile);
  const run = runFfmpeg(args);
  publishers.runs.push(run);
  return run;
}

/** Sends `bytes` to the RTMPS port and resolves when the origin closes the connection. */
function sendAndAwaitClose(bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(rtmpsPort(), '127.0.0.1', () => socket.write(bytes));
    socket.on('error', () => {}); // a reset is a close too
    socket.once('close', () => resolve());
    setTimeout(() => reject(new Error('the origin kept a garbage connection open')), 15_000).unref();
  });
}

test.serial('RTMPS has its own port, off the RTMP one, and is named in what start returns', (t) => {
  t.regex(origin.rtmpsUrl ?? '', /^rtmps:\/\/127\.0\.0\.1:\d+\/live$/);
  t.not(origin.rtmpsUrl!.split(':')[2], origin.rtmpUrl.split(':')[2]);
});

test.serial('bytes that are not TLS (garbage, plain RTMP) close their connection only', async (t) => {
  await sendAndAwaitClose(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n\u0000\u00ff garbage'));
  // A plain RTMP handshake (C0 = 3, C1 = 1536 bytes) on the TLS port.
  await sendAndAwaitClose(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536, 7)]));
  t.is(await metric('ringcast_origin_rtmp_rejected_total', { reason: 'tls_handshake' }), 2);
  t.is(await getText(`${origin.url}/healthz`).then(() => 'up'), 'up');
});

test.serial('the pre-publish caps apply over RTMPS: a 16 MiB message before publish closes it', async (t) => {
  const socket = tlsConnect({ port: rtmpsPort(), host: '127.0.0.1', ca: readFileSync(ca.caFile) });
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('secureConnect', resolve));
  socket.write(handshake(new FuzzRandom(7)));
  socket.write(chunk({ type: 20, payload: Buffer.alloc(100), declaredLength: 0xffffff }));
  socket.resume();
  await new Promise((resolve) => socket.once('close', resolve));
  t.is(await metric('ringcast_origin_rtmp_rejected_total', { reason: 'message_too_large' }), 1);
});

test.serial('ffmpeg refuses an origin whose certificate its CA did not sign', async (t) => {
  const other = await openDemoCa(join(dir, 'other-ca'));
  const run = publishRtmps(KEY, other.caFile, 2);
  t.not(await run.exited, 0);
  t.regex(run.stderr(), /certificate failed verification/);
  t.is(await metric('ringcast_origin_publish_refused_total'), 0, 'it never got as far as a publish');
});

test.serial('a wrong key over RTMPS is refused as over RTMP', async (t) => {
  const run = publishRtmps('not-the-key', ca.caFile, 4);
  t.not(await run.exited, 0);
  t.regex(run.stderr(), /publish refused|Unauthorized|End of file|error/i);
  t.is(await metric('ringcast_origin_publish_refused_total'), 1);
  t.is(await metric('ringcast_origin_segments_published_total'), 0);
});

/** The publisher accepted over RTMPS (the renewal test checks it outlives a certificate swap). */
let live: ReturnType<typeof publishRtmps> | undefined;

test.serial('the right key over RTMPS, with the CA checked: the stream goes live', async (t) => {
  const run = publishRtmps(KEY, ca.caFile);
  live = run;
  await waitFor(async () => segmentsIn(await getText(`${origin.url}/live/demo/180p/index.m3u8`)) >= 2, {
    timeoutMs: 60_000,
    what: '2 segments published over RTMPS',
  });
  t.is(run.child.exitCode, null, `publisher still running: ${run.stderr()}`);
  t.true((await metric('ringcast_origin_segments_published_total')) >= 2);
});

/** The serial number of the certificate the RTMPS port presents to a new connection. */
function servedSerial(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port: rtmpsPort(), host: '127.0.0.1', ca: readFileSync(ca.caFile) }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

test.serial(
  'a certificate renewed on disk is served to new RTMPS connections; the live publisher goes on',
  async (t) => {
    const before = await servedSerial();
    await issueCert(ca, 'origin', ['127.0.0.1', 'localhost']);
    const after = await waitFor(
      async () => {
        const serial = await servedSerial();
        return serial !== before ? serial : undefined;
      },
      { timeoutMs: 15_000, what: 'the renewed certificate on a new connection' },
    );
    t.not(after, before);
    // The publisher's connection keeps its session: segments go on being published after the swap.
    const published = await metric('ringcast_origin_segments_published_total');
    await waitFor(async () => (await metric('ringcast_origin_segments_published_total')) > published, {
      timeoutMs: 20_000,
      what: 'a segment published after the renewal',
    });
    t.is(live?.child.exitCode, null, `publisher still running: ${live?.stderr()}`);
  },
);
