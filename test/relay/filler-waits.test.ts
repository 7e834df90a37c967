import test from 'ava';
import { clusterWith, FakeUpstream, get, startRelay } from './helpers.ts';

// relay/filler.ts: fills of segments not announced yet each wait for their announcement on the fill
// loop's one closing signal (relay/cluster-source.ts awaitAnnouncement). Many such waits at once are
// normal (a busy edge, or a stranger asking for names not yet announced) and must not make Node warn
// of a listener leak: each wait removes its listener when it ends.
test('a dozen fills waiting on announcements at once: no MaxListenersExceededWarning', async (t) => {
  const origin = await new FakeUpstream().start();
  const cluster = clusterWith(origin.url);
  // A peer owns every key: each segment fill waits for its announcement before asking it.
  cluster.setRing({
    version: 1,
    relays: [{ id: 'peer-a', url: 'http://127.0.0.1:9', capacity: 1, state: 'active' }],
  });
  const s = await startRelay(cluster);
  t.teardown(() => Promise.all([s.relay.close(), origin.close()]));
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  for (let i = 1; i <= 12; i++) origin.objects.set(`demo/720p/${i}.m4s`, Buffer.from(`segment ${i}`));
  const got = await Promise.all(
    Array.from({ length: 12 }, (_, i) => get(`${s.url}/live/demo/720p/${i + 1}.m4s`)),
  );
  t.deepEqual(
    got.map((g) => g.status),
    Array(12).fill(200),
  );
  await new Promise((r) => setImmediate(r));
  t.deepEqual(
    warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
    [],
  );
});
