/**
 * A small real cluster whose relays serve HTTPS (HTTP/2 and HTTP/1.1) with the demo CA and reach each
 * other over https with it (`--tls-ca`): the coordinator's master points viewers at https relays, and
 * ffmpeg decodes the stream from a relay over https, verifying the relay's certificate against the CA.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { issueCert, openDemoCa } from '../../common/demo-ca.ts';
import { startTestCluster, type TestCluster, waitForLive } from '../../harness/cluster.ts';
import { runFfmpeg } from '../../harness/ffmpeg.ts';
import { getText, sumMetric } from '../../harness/wait.ts';
import { curl } from '../relay/tls-kit.ts';

let c: TestCluster;
let dir: string;
let caFile: string;

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ringcast-https-'));
  const ca = await openDemoCa(dir);
  caFile = ca.caFile;
  const leaf = await issueCert(ca, 'relay', ['localhost', '127.0.0.1']);
  const tls = ['--tls-cert', leaf.certFile, '--tls-key', leaf.keyFile, '--tls-ca', ca.caFile];
  c = await startTestCluster({ relays: 2, relayArgs: tls });
  await waitForLive(c, 'demo', 2);
});

test.after.always(async () => {
  await c?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test.serial('the master points at https relays; ffmpeg decodes 6 s from one over https', async (t) => {
  for (const r of c.relays) t.regex(r.url, /^https:\/\//);
  const master = await getText(`${c.coordinator.url}/live/demo/master.m3u8?session=https-1`);
  t.regex(master, /^https:\/\/127\.0\.0\.1:\d+\/live\/demo\//m);
  const relayMaster = `${c.relays[0]!.url}/live/demo/master.m3u8`;
  const h2 = await curl(caFile, relayMaster, ['--http2']);
  t.is(h2.status, 200);
  t.is(h2.version, '2');
  // ffmpeg's hls demuxer passes neither option on to the playlists and segments it opens next: the
  // certificate is verified on the master, the rest rides the same relay.
  const run = runFfmpeg([
    ...['-tls_verify', '1', '-ca_file', caFile, '-i', relayMaster],
    ...['-map', '0:v:0', '-t', '6', '-f', 'null', '-'],
  ]);
  const killer = setTimeout(run.kill, 60_000);
  const code = await run.exited;
  clearTimeout(killer);
  t.is(code, 0, run.stderr());
});

test.serial(
  'a relay fills from its https peers: segments owned by the other relay come over https',
  async (t) => {
    const [a, b] = c.relays;
    const playlist = await curl(caFile, `${a!.url}/live/demo/180p/index.m3u8`, ['--http2']);
    const segments = playlist.body.split('\n').filter((l) => l.endsWith('.m4s'));
    t.true(segments.length >= 2, playlist.body);
    for (const relay of [a!, b!])
      for (const s of segments.slice(-2)) {
        const got = await curl(caFile, `${relay.url}/live/demo/180p/${s}`, ['--http2', '-o', '/dev/null']);
        t.is(got.status, 200, `${relay.url} ${s}`);
      }
    let peerOk = 0;
    for (const relay of [a!, b!]) {
      const text = (await curl(caFile, `${relay.url}/metrics`, ['--http1.1'])).body;
      peerOk += sumMetric(text, 'ringcast_relay_upstream_fetches_total', { source: 'peer', outcome: 'ok' });
      t.is(sumMetric(text, 'ringcast_relay_upstream_errors_total', { source: 'peer' }), 0, text);
    }
    t.true(peerOk >= 1, 'segments came from the peer relay over https');
  },
);
