import { setMaxListeners } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { startTestCluster, type TestCluster, waitForLive } from '../../harness/cluster.ts';
import { type ReaderStats, readHls } from '../../harness/hls-reader.ts';
import { getText, sumMetric, waitFor } from '../../harness/wait.ts';
import { alive, cleanup, localPids, makeWorkDir, ringOf, runDeploy } from './helpers.ts';

const READERS = 10;
const work = makeWorkDir('rolling');
const dir = join(work.dir, 'relays');
let cluster: TestCluster | undefined;
const readersStop = new AbortController();
// Every reader listens on the one signal.
setMaxListeners(0, readersStop.signal);

test.after.always(async () => {
  readersStop.abort();
  await cleanup({ relayDirs: [dir], dirs: [work.dir] });
  await cluster?.stop();
});

/** Requests the relays answered so far (all cache results). */
async function requestsServed(relayUrls: string[]): Promise<number> {
  const texts = await Promise.all(relayUrls.map((u) => getText(`${u}/metrics`)));
  return texts.reduce((n, text) => n + sumMetric(text, 'ringcast_relay_requests_total'), 0);
}

/** Sum of the viewers the relays report to the coordinator. */
async function viewersInRing(coordinatorUrl: string): Promise<number> {
  const res = await fetch(`${coordinatorUrl}/api/v1/cluster`, { signal: AbortSignal.timeout(5000) });
  const view = (await res.json()) as { ring: { relays: { load?: { viewers: number } }[] } };
  return view.ring.relays.reduce((n, r) => n + (r.load?.viewers ?? 0), 0);
}

test.serial(
  'rolling-restart under 10 concurrent HLS readers replaces every relay with zero failed reads',
  async (t) => {
    t.timeout(360_000);
    // Relays come from the script, not from the helper: the cluster is a coordinator and an origin.
    cluster = await startTestCluster({ relays: 0 });
    writeFileSync(work.secretFile, `${cluster.secret}\n`, { mode: 0o600 });
    const coordinatorUrl = cluster.coordinator.url;
    const up = await runDeploy([
      'local',
      '--count',
      '3',
      '--base-port',
      '0',
      '--drain-ms',
      '1500',
      '--dir',
      dir,
      '--coordinator',
      coordinatorUrl,
      '--secret-file',
      work.secretFile,
    ]);
    t.is(up.code, 0, up.output);
    t.is((await ringOf(coordinatorUrl)).relays.length, 3);
    await waitForLive(cluster, 'demo', 2);
    const before = localPids(dir);

    // Readers enter through the coordinator and follow its content steering, as hls.js does.
    const readers: Promise<ReaderStats>[] = Array.from({ length: READERS }, (_, i) =>
      readHls({
        masterUrl: `${coordinatorUrl}/live/demo/master.m3u8?session=rolling-${i}`,
        signal: readersStop.signal,
      }),
    );
    await waitFor(async () => (await viewersInRing(coordinatorUrl)) >= 3, {
      timeoutMs: 30_000,
      what: 'readers on the relays',
    });

    const restart = await runDeploy(['rolling-restart', '--dir', dir, '--drain-timeout', '60s'], {
      timeoutMs: 300_000,
    });
    t.is(restart.code, 0, restart.output);
    t.is(restart.stdout.match(/back in the ring after/g)?.length, 3, restart.output);
    t.notRegex(restart.stderr, /stopping anyway/, 'viewers left every relay before it stopped');

    const after = localPids(dir);
    for (const [file, pid] of before) {
      t.false(alive(pid), `${file}: old process gone`);
      t.not(after.get(file), pid, `${file}: replaced`);
      t.true(alive(after.get(file)!), `${file}: new process runs`);
    }
    const ring = await ringOf(coordinatorUrl);
    t.is(ring.relays.length, 3);
    t.true(ring.relays.every((r) => r.state === 'active'));

    // Let the readers fetch from the restarted fleet for a moment before they stop.
    const urls = ring.relays.map((r) => r.url);
    const served = await requestsServed(urls);
    await waitFor(async () => (await requestsServed(urls)) >= served + 3 * READERS, {
      timeoutMs: 30_000,
      what: 'readers reading from the restarted relays',
    });
    readersStop.abort();
    const stats = await Promise.all(readers);
    const failed = stats.reduce((n, s) => n + s.errors, 0);
    const segments = stats.reduce((n, s) => n + s.segments, 0);
    const relaysUsed = new Set(stats.flatMap((s) => [...s.relays.keys()]));
    t.log(
      `${READERS} readers: ${segments} segments, ${failed} failed reads, ${stats.reduce((n, s) => n + s.stalls, 0)} stalls, relays used: ${[...relaysUsed].join(', ')}`,
    );
    t.is(failed, 0, stats.map((s) => s.lastError ?? '').join('\n'));
    t.true(
      stats.every((s) => s.segments >= 5),
      `every reader kept reading: ${stats.map((s) => s.segments)}`,
    );
    t.true(relaysUsed.size >= 2, 'readers moved between relays');
  },
);
