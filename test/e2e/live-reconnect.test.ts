import test from 'ava';
import { startTestCluster, type TestCluster } from '../../harness/cluster.ts';
import { type FfmpegRun, publishTestPattern } from '../../harness/ffmpeg.ts';
import { getText, waitFor } from '../../harness/wait.ts';

// A publisher that comes back after its stream ended, with a larger picture: the ladder grows a rung
// that has no segment yet. The master must not list that rung before it answers (a viewer opening the
// master then gets a 404 for that variant and ffmpeg gives up), as at the first start.

const fetchText = async (url: string) => {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, text: await res.text() };
};
const variantsOf = (master: string) => master.split('\n').filter((l) => l.startsWith('http'));

test.serial('a stream that ended goes live again only once every variant answers', async (t) => {
  t.timeout(150_000);
  let c: TestCluster | undefined;
  const publishers: FfmpegRun[] = [];
  t.teardown(async () => {
    for (const p of publishers) p.kill();
    await c?.stop();
  });
  c = await startTestCluster({ relays: 1, source: 'rtmp', originArgs: ['--end-grace-ms', '300'] });
  const masterUrl = `${c.coordinator.url}/live/demo/master.m3u8`;
  const state = async () =>
    (JSON.parse(await getText(`${c!.coordinator.url}/api/v1/streams/demo`)) as { stream: { state: string } })
      .stream.state;

  // 160x90: the 320x180 rung is above the input and skipped.
  publishers.push(publishTestPattern(`${c.origin.rtmpUrl}/${c.streamKey}`, { size: '160x90' }));
  const first = await waitFor(
    async () => {
      const r = await fetchText(masterUrl);
      return r.status === 200 ? r.text : undefined;
    },
    { timeoutMs: 40_000, what: 'the first master' },
  );
  t.is(variantsOf(first).length, 1, first);
  publishers[0]!.kill();
  await waitFor(async () => (await state()) === 'ended', { timeoutMs: 30_000, what: 'the stream ended' });

  // Back at 320x180: two rungs now. Watch the master from before the publisher starts.
  publishers.push(publishTestPattern(`${c.origin.rtmpUrl}/${c.streamKey}`, { size: '320x180' }));
  const grown = await waitFor(
    async () => {
      const r = await fetchText(masterUrl);
      return r.status === 200 && variantsOf(r.text).length === 2 ? r.text : undefined;
    },
    { timeoutMs: 40_000, intervalMs: 20, what: 'a master with both variants' },
  );
  const variants = variantsOf(grown);
  const answers = await Promise.all(variants.map(fetchText));
  for (const [i, a] of answers.entries()) {
    t.is(a.status, 200, `${variants[i]} answered ${a.status}: ${a.text}`);
    t.true((a.text.match(/#EXTINF/g) ?? []).length >= 1, `${variants[i]} lists a segment:\n${a.text}`);
  }
});
