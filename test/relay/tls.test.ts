/**
 * The relay over HTTPS (tls-front.ts, h2-front.ts): HTTP/2 and HTTP/1.1 on one port with the demo CA,
 * read by real curl and Node's HTTP/2 client; the fast path behind TLS; renewal on disk; bad input.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import test, { type ExecutionContext } from 'ava';
import { issueCert } from '../../common/demo-ca.ts';
import { loadRelayConfig } from '../../relay/config.ts';
import { clusterWith, FakeUpstream, metric, startRelay, waitFor } from './helpers.ts';
import { curl, h2get, h2session, presented, type TestCa, testCa } from './tls-kit.ts';

const PLAYLIST = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n1.m4s\n';

async function tlsRelay(t: ExecutionContext, ca?: TestCa) {
  const tca = ca ?? (await testCa(t));
  const origin = await new FakeUpstream().start();
  t.teardown(() => origin.close());
  const segment = randomBytes(300_000);
  origin.objects.set('demo/720p/index.m3u8', Buffer.from(PLAYLIST));
  origin.objects.set('demo/720p/1.m4s', segment);
  const { relay, url, id } = await startRelay(clusterWith(origin.url), {
    tlsCert: tca.leaf.certFile,
    tlsKey: tca.leaf.keyFile,
  });
  t.teardown(() => relay.close());
  const port = Number(new URL(url).port);
  const base = `https://localhost:${port}`;
  return { ...tca, origin, segment, relay, url, id, port, base };
}

test('curl reads a playlist and a segment over HTTP/2; the relay advertises https', async (t) => {
  const s = await tlsRelay(t);
  t.regex(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const playlist = await curl(s.ca.caFile, `${s.base}/live/demo/720p/index.m3u8`, ['--http2']);
  t.is(playlist.version, '2');
  t.is(playlist.status, 200);
  t.is(playlist.body, PLAYLIST);
  t.is(playlist.headers.get('x-ringcast-relay'), s.id);
  const first = await curl(s.ca.caFile, `${s.base}/live/demo/720p/1.m4s`, ['--http2', '-o', '/dev/null']);
  t.is(first.version, '2');
  t.is(first.status, 200);
  t.is(first.headers.get('content-length'), String(s.segment.length));
  const again = await curl(s.ca.caFile, `${s.base}/live/demo/720p/1.m4s`, ['--http2', '-o', '/dev/null']);
  t.is(again.headers.get('x-ringcast-cache'), 'HIT');
  // A token path is a /live/ object over HTTP/2 too (a public stream ignores the token: same entry).
  const viaToken = await curl(s.ca.caFile, `${s.base}/t/k0.1.-.AAAAAAAAAAAAAAAAAAAAAA/live/demo/720p/1.m4s`, [
    '--http2',
    '-o',
    '/dev/null',
  ]);
  t.is(viaToken.version, '2');
  t.is(viaToken.status, 200);
  t.is(viaToken.headers.get('x-ringcast-cache'), 'HIT');
  t.is(s.origin.count('demo/720p/1.m4s'), 1);
});

test('HTTP/1.1 over TLS is answered on the fast path; control paths reach express', async (t) => {
  const s = await tlsRelay(t);
  const a = await curl(s.ca.caFile, `${s.base}/live/demo/720p/1.m4s`, ['--http1.1', '-o', '/dev/null']);
  t.is(a.version, '1.1');
  t.is(a.status, 200);
  const b = await curl(s.ca.caFile, `${s.base}/live/demo/720p/1.m4s`, ['--http1.1', '-o', '/dev/null']);
  t.is(b.headers.get('x-ringcast-cache'), 'HIT');
  // The /metrics request itself is the one connection handed to Node's http.
  const m = await curl(s.ca.caFile, `${s.base}/metrics`, ['--http1.1']);
  t.is(m.status, 200);
  t.is(metric(m.body, 'ringcast_relay_fast_path_handoffs_total'), 1);
  // Over HTTP/2 a control path is refused with HTTP_1_1_REQUIRED, and curl retries it over HTTP/1.1.
  const health = await curl(s.ca.caFile, `${s.base}/healthz`, ['--http2']);
  t.is(health.status, 200);
  t.is(health.version, '1.1');
  t.is(JSON.parse(health.body).url, s.url);
});

test('ranges, 304, HEAD and errors over HTTP/2 are the plan front ends share', async (t) => {
  const s = await tlsRelay(t);
  const session = h2session(t, s.base, s.caPem);
  const whole = await h2get(session, '/live/demo/720p/1.m4s');
  t.true(whole.body.equals(s.segment));
  const range = await h2get(session, '/live/demo/720p/1.m4s', { range: 'bytes=10-19' });
  t.is(range.status, 206);
  t.is(range.headers['content-range'], `bytes 10-19/${s.segment.length}`);
  t.true(range.body.equals(s.segment.subarray(10, 20)));
  // A cut-through answer has no ETag yet (response-plan.ts); the complete entry's answers carry it.
  const etag = String(range.headers.etag);
  const notModified = await h2get(session, '/live/demo/720p/1.m4s', { 'if-none-match': etag });
  t.is(notModified.status, 304);
  t.is(notModified.body.length, 0);
  const head = await h2get(session, '/live/demo/720p/1.m4s', { ':method': 'HEAD' });
  t.is(head.status, 200);
  t.is(head.body.length, 0);
  const bad = await h2get(session, '/live/demo/720p/..%2fx.m4s');
  t.is(bad.status, 400);
  t.is(JSON.parse(bad.body.toString()).error.code, 'RC_BAD_PATH');
  const unknown = await h2get(session, '/live/other/720p/1.m4s');
  t.is(unknown.headers['x-ringcast-error'], 'RC_STREAM_NOT_FOUND');
  await t.throwsAsync(h2get(session, '/metrics'), { message: /NGHTTP2_HTTP_1_1_REQUIRED/ });
  const preflight = await h2get(session, '/live/demo/720p/1.m4s', { ':method': 'OPTIONS' });
  t.is(preflight.status, 204);
  t.regex(String(preflight.headers['access-control-allow-headers']), /Range/);
});

test('an answer still filling does not hold the other streams of an HTTP/2 session', async (t) => {
  const s = await tlsRelay(t);
  const held = randomBytes(200_000);
  s.origin.objects.set('demo/720p/2.m4s', held);
  s.origin.behaviour.set('demo/720p/2.m4s', 'slow');
  const session = h2session(t, s.base, s.caPem);
  const slow = h2get(session, '/live/demo/720p/2.m4s');
  await waitFor(() => s.origin.count('demo/720p/2.m4s') === 1, 5000, 'the slow fill');
  const other = await h2get(session, '/live/demo/720p/index.m3u8');
  t.is(other.body.toString(), PLAYLIST);
  s.origin.release();
  t.true((await slow).body.equals(held));
});

test('a certificate renewed on disk reaches new connections while an open HTTP/2 session goes on', async (t) => {
  const s = await tlsRelay(t);
  const session = h2session(t, s.base, s.caPem);
  t.is((await h2get(session, '/live/demo/720p/index.m3u8')).status, 200);
  const before = await presented(s.port, s.caPem);
  await s.renew();
  await waitFor(async () => (await presented(s.port, s.caPem)) !== before, 10_000, 'the renewed certificate');
  t.is((await h2get(session, '/live/demo/720p/1.m4s')).status, 200);
  const fresh = await curl(s.ca.caFile, `${s.base}/live/demo/720p/1.m4s`, ['--http2', '-o', '/dev/null']);
  t.is(fresh.status, 200);
});

test('plain HTTP sent to the TLS port ends that connection only', async (t) => {
  const s = await tlsRelay(t);
  const plain = await new Promise<string>((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port: s.port, path: '/live/demo/720p/index.m3u8' }, (res) =>
      resolve(`answered ${res.statusCode}`),
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
  t.not(plain.slice(0, 8), 'answered');
  t.is((await curl(s.ca.caFile, `${s.base}/live/demo/720p/index.m3u8`, ['--http2'])).status, 200);
});

test('a key that is not the certificate’s fails the start with the reason', async (t) => {
  const ca = await testCa(t);
  const other = await ca.renew();
  const wrong = await issueCert(ca.ca, 'wrong', ['localhost']);
  const origin = await new FakeUpstream().start();
  t.teardown(() => origin.close());
  await t.throwsAsync(
    startRelay(clusterWith(origin.url), { tlsCert: other.certFile, tlsKey: wrong.keyFile }),
    { message: /do not make a pair/ },
  );
});

test('tlsCert and tlsKey go together; zeroCopy is refused with TLS', (t) => {
  const env = { RINGCAST_COORDINATOR_URL: 'http://127.0.0.1:9', RINGCAST_CLUSTER_SECRET: 'secret-123' };
  t.throws(() => loadRelayConfig(['--tls-cert', 'c.pem'], env), {
    message: /'tlsCert' and 'tlsKey' go together/,
  });
  t.throws(() => loadRelayConfig(['--tls-key', 'k.pem'], env), {
    message: /'tlsCert' and 'tlsKey' go together/,
  });
  t.throws(() => loadRelayConfig(['--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--zero-copy', 'true'], env), {
    message: /'zeroCopy' cannot be used with tlsCert/,
  });
  t.is(loadRelayConfig(['--tls-cert', 'c.pem', '--tls-key', 'k.pem'], env).tlsKey, 'k.pem');
});

test('sixteen 1 MB segments at once on one HTTP/2 session are all answered whole', async (t) => {
  const s = await tlsRelay(t);
  const big = randomBytes(1024 * 1024);
  s.origin.objects.set('demo/720p/3.m4s', big);
  const session = h2session(t, s.base, s.caPem);
  t.is((await h2get(session, '/live/demo/720p/3.m4s')).status, 200);
  const answers = await Promise.all(
    Array.from({ length: 16 }, () => h2get(session, '/live/demo/720p/3.m4s')),
  );
  for (const a of answers) {
    t.is(a.status, 200);
    t.is(a.body.length, big.length);
  }
});
