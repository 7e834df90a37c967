import test from 'ava';
import { startTestCluster, type TestCluster } from '../../harness/cluster.ts';
import { type FfmpegRun, publishTestPattern } from '../../harness/ffmpeg.ts';
import { waitFor } from '../../harness/wait.ts';

// A viewer who opens the master playlist the moment the coordinator first offers it must find every
// variant it lists answering with a complete segment: a 404 there makes ffmpeg (and some players) give
// up. The publisher starts only once the test watches, so the first 200 is seen as it happens.

const fetchText = async (url: string) => {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, text: await res.text() };
};

async function firstMaster(masterUrl: string): Promise<string> {
  return waitFor(
    async () => {
      const r = await fetchText(masterUrl);
      return r.status === 200 ? r.text : undefined;
    },
    { timeoutMs: 40_000, intervalMs: 20, what: 'the master playlist' },
  );
}

// LL-HLS is the case that failed: the origin went live on the init sections, seconds before the first
// complete segment, while standard HLS happened to get both at once.
test.serial('LL-HLS: the first master offered lists only variants with a complete segment', async (t) => {
  t.timeout(90_000);
  let c: TestCluster | undefined;
  let publisher: FfmpegRun | undefined;
  t.teardown(async () => {
    publisher?.kill();
    await c?.stop();
  });
  c = await startTestCluster({
    relays: 1,
    source: 'rtmp',
    originArgs: ['--low-latency'],
  });
  const masterUrl = `${c.coordinator.url}/live/demo/master.m3u8`;
  t.is((await fetchText(masterUrl)).status, 404, 'nothing offered before a publisher');
  publisher = publishTestPattern(`${c.origin.rtmpUrl}/${c.streamKey}`);
  const master = await firstMaster(masterUrl);
  const variants = master.split('\n').filter((l) => l.startsWith('http'));
  t.is(variants.length, 2, master);
  const answers = await Promise.all(variants.map(fetchText));
  for (const [i, a] of answers.entries()) {
    t.is(a.status, 200, `${variants[i]} answered ${a.status}: ${a.text}`);
    t.true((a.text.match(/#EXTINF/g) ?? []).length >= 1, `${variants[i]} lists a segment:\n${a.text}`);
  }
});
