import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import HLS from 'hls-parser';
import { defaultPlaybackKey, mintToken } from '../../common/playback-token.ts';
import { launchChromium } from '../../harness/browser.ts';
import { startTestCluster, type TestCluster, waitForLive } from '../../harness/cluster.ts';
import { runFfmpeg } from '../../harness/ffmpeg.ts';
import { getText, sumMetric, waitFor } from '../../harness/wait.ts';

// One real cluster (coordinator, origin with the test pattern, 2 relays); `demo` is made private once live.
let c: TestCluster;
let token: string;

test.before(async () => {
  c = await startTestCluster({ relays: 2 });
  await waitForLive(c, 'demo', 2);
  const reg = await fetch(`${c.coordinator.url}/api/v1/streams`, {
    method: 'POST',
    headers: { authorization: `Bearer ${c.secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'demo', private: true }),
  });
  if (reg.status !== 201) throw new Error(`registration: ${reg.status}`);
  // Every relay has heard that the stream is private: a plain request is refused.
  for (const r of c.relays)
    await waitFor(async () => (await fetch(`${r.url}/live/demo/master.m3u8`)).status === 403, {
      what: `${r.id} refuses demo without a token`,
    });
  const minted = await fetch(`${c.coordinator.url}/api/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${c.secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ stream: 'demo', ttlSeconds: 600 }),
  });
  token = ((await minted.json()) as { token: string }).token;
});

test.after.always(async () => {
  await c?.stop();
});

/** Decodes `seconds` of a live HLS URL with ffmpeg; resolves with its exit code and the media decoded. */
async function ffmpegDecode(
  url: string,
  seconds: number,
): Promise<{ code: number | null; decodedUs: number; stderr: string }> {
  const progress = join(c.dir, `progress-${Date.now()}.txt`);
  const run = runFfmpeg(['-i', url, '-t', String(seconds), '-progress', progress, '-f', 'null', '-']);
  const killer = setTimeout(run.kill, (seconds + 40) * 1000);
  const code = await run.exited;
  clearTimeout(killer);
  const times = [...readFileSync(progress, 'utf8').matchAll(/out_time_us=(\d+)/g)].map((m) => Number(m[1]));
  return { code, decodedUs: Math.max(0, ...times), stderr: run.stderr() };
}

test.serial('ffmpeg plays a private stream from its token URL, through a relay', async (t) => {
  const url = `${c.coordinator.url}/t/${token}/live/demo/master.m3u8?session=ffmpeg-private`;
  const master = HLS.parse(await getText(url)) as HLS.types.MasterPlaylist;
  for (const v of master.variants)
    t.true(
      c.relays.some((r) => v.uri.startsWith(`${r.url}/t/${token}/live/demo/`)),
      `${v.uri} is a token URL on a relay`,
    );
  const run = await ffmpegDecode(url, 6);
  t.is(run.code, 0, run.stderr);
  t.true(run.decodedUs >= 5_500_000, `decoded ${run.decodedUs / 1e6} s`);
  // The relays served the segments: requests counted, the token in no metric and no log line.
  let served = 0;
  for (const r of c.relays) {
    const metrics = await getText(`${r.url}/metrics`);
    served += sumMetric(metrics, 'ringcast_relay_requests_total');
    t.false(metrics.includes(token.split('.')[3]!), 'no token in metrics');
  }
  t.true(served > 0);
  const mac = token.split('.')[3]!;
  for (const f of readdirSync(c.dir).filter((n) => n.endsWith('.log')))
    t.false(readFileSync(join(c.dir, f), 'utf8').includes(mac), `no token in ${f}`);
});

test.serial(
  'an expired, forged or missing token is refused at the coordinator and at every relay',
  async (t) => {
    const keys = [defaultPlaybackKey(c.secret)];
    const expired = mintToken(keys, { stream: 'demo', expiresAt: Math.floor(Date.now() / 1000) - 1 });
    const forged = mintToken([{ kid: 'k0', secret: 'not-the-cluster-key-0123' }], {
      stream: 'demo',
      expiresAt: Math.floor(Date.now() / 1000) + 600,
    });
    const media = (await getText(`${c.relays[0]!.url}/t/${token}/live/demo/180p/index.m3u8`)).split('\n');
    const segment = media.find((l) => l.endsWith('.m4s') && !l.startsWith('#'))!;
    for (const base of [c.coordinator.url, ...c.relays.map((r) => r.url)]) {
      const paths =
        base === c.coordinator.url ? ['master.m3u8'] : ['master.m3u8', '180p/index.m3u8', `180p/${segment}`];
      for (const p of paths) {
        const want: [string, string][] = [
          [`/t/${expired}/live/demo/${p}`, 'RC_TOKEN_EXPIRED'],
          [`/t/${forged}/live/demo/${p}`, 'RC_TOKEN_INVALID'],
          [`/live/demo/${p}`, 'RC_TOKEN_MISSING'],
        ];
        for (const [path, code] of want) {
          const res = await fetch(`${base}${path}`);
          const body = (await res.json()) as { error: { code: string } };
          t.deepEqual([res.status, body.error.code], [403, code], `${base}${path}`);
        }
      }
    }
    const metrics = await getText(`${c.relays[0]!.url}/metrics`);
    t.true(sumMetric(metrics, 'ringcast_relay_refused_requests_total', { reason: 'token_expired' }) >= 3);
  },
);

test.serial('the player page plays a private stream from its token', async (t) => {
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.context.newPage();
  await page.goto(`${c.coordinator.url}/player/?stream=demo&token=${token}&session=page-private`);
  type Stats = { playing: boolean; segments: { relay: string }[]; masterUrl: string };
  const stats = () => page.evaluate(() => (window as unknown as { ringcastStats: Stats }).ringcastStats);
  await waitFor(async () => (await stats()).playing && (await stats()).segments.length >= 2, {
    timeoutMs: 30_000,
    what: 'the page plays the private stream',
  });
  t.true((await stats()).masterUrl.includes(`/t/${token}/live/demo/`));
  // Without the token the same page gets nothing to play.
  const plain = await browser.context.newPage();
  const refused = plain.waitForResponse((r) => r.url().includes('/live/demo/master.m3u8'));
  await plain.goto(`${c.coordinator.url}/player/?stream=demo&session=page-plain`);
  t.is((await refused).status(), 403);
});
