import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import test from 'ava';
import HLS from 'hls-parser';
import { startTestCluster, type TestCluster, waitForLive } from '../../harness/cluster.ts';
import { getText, waitFor } from '../../harness/wait.ts';
import { collectRelease } from '../../scripts/deploy/release.ts';
import { alive, cleanup, makeWorkDir, ringOf, runDeploy } from './helpers.ts';
import { freePort, startSshd, type TestSshd } from './sshd.ts';

const ID = 'ssh-test-relay';
const work = makeWorkDir('ssh');
const remoteDir = join(work.dir, 'remote');
const relaysDir = join(remoteDir, 'relays');
let cluster: TestCluster | undefined;
let sshd: TestSshd | undefined;

test.after.always(async () => {
  // Whatever the deploy left running on the "host": the supervisor and the relay, by their pid files.
  for (const f of [`${ID}.pid`, `${ID}.relay.pid`]) {
    try {
      const pid = Number(readFileSync(join(relaysDir, f), 'utf8'));
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      // Not there: nothing to stop.
    }
  }
  await sshd?.stop();
  await cluster?.stop();
  await cleanup({ dirs: [work.dir] });
});

/** A copy of the project, so that files other engineers edit meanwhile do not change the release. */
function snapshotSource(): string {
  const repo = join(dirname(new URL(import.meta.url).pathname), '../..');
  const dest = join(work.dir, 'source');
  for (const f of collectRelease(repo).files) {
    mkdirSync(dirname(join(dest, f)), { recursive: true });
    cpSync(join(repo, f), join(dest, f), { preserveTimestamps: true });
  }
  return dest;
}

/** Fetches the first segment of the stream's last variant from `relayUrl`; returns it and the relay header. */
async function fetchSegment(relayUrl: string): Promise<{ bytes: number; relay: string | null }> {
  const masterUrl = `${relayUrl}/live/demo/master.m3u8`;
  const master = HLS.parse(await getText(masterUrl)) as HLS.types.MasterPlaylist;
  const mediaUrl = new URL(master.variants.at(-1)!.uri, masterUrl).toString();
  const media = HLS.parse(await getText(mediaUrl)) as HLS.types.MediaPlaylist;
  const segUrl = new URL(media.segments.at(-1)!.uri, mediaUrl).toString();
  const res = await fetch(segUrl, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${segUrl}: ${res.status}`);
  return { bytes: (await res.arrayBuffer()).byteLength, relay: res.headers.get('x-ringcast-relay') };
}

test.serial(
  'ssh deploys a relay that joins the ring and serves a segment; a rerun changes nothing; status, rolling-restart, partial failure, stop',
  async (t) => {
    t.timeout(300_000);
    sshd = await startSshd(join(work.dir, 'sshd'));
    cluster = await startTestCluster({ relays: 0 });
    const source = snapshotSource();
    // The cluster has its own secret: hand that one to the deploy.
    writeFileSync(work.secretFile, `${cluster.secret}\n`, { mode: 0o600 });
    const relayPort = await freePort();
    const relayUrl = `http://127.0.0.1:${relayPort}`;
    const good = `root@127.0.0.1 port=${sshd.port} relay-port=${relayPort} listen=127.0.0.1 public-url=${relayUrl} id=${ID}`;
    const hostsFile = join(work.dir, 'hosts');
    writeFileSync(hostsFile, `# test fleet\n${good}\n`);
    const args = [
      '--hosts',
      hostsFile,
      '--coordinator',
      cluster.coordinator.url,
      '--secret-file',
      work.secretFile,
      '--identity',
      sshd.clientKey,
      '--known-hosts',
      sshd.knownHosts,
      '--remote-dir',
      remoteDir,
      '--source',
      source,
      '--drain-ms',
      '1000',
    ];

    const dry = await runDeploy(['ssh', ...args, '--dry-run']);
    t.is(dry.code, 0, dry.output);
    t.regex(dry.stdout, /would copy \d+ files/);
    t.regex(dry.stdout, /ExecStart=|ringcast\.js' relay/, 'prints the rendered unit or supervisor');
    t.regex(dry.stdout, /dry run: nothing was changed/);

    const first = await runDeploy(['ssh', ...args], { timeoutMs: 240_000 });
    t.is(first.code, 0, first.output);
    t.regex(first.stdout, /installed/);
    const listed = (await ringOf(cluster.coordinator.url)).relays.find((r) => r.url === relayUrl);
    t.is(listed?.state, 'active', 'the coordinator lists the relay');
    t.is(listed?.id, ID);
    t.is(statSync(join(relaysDir, `${ID}.env`)).mode & 0o777, 0o600, 'secret file mode 600');
    const pid = Number(readFileSync(join(relaysDir, `${ID}.relay.pid`), 'utf8'));
    t.true(alive(pid));
    t.false(
      readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(cluster.secret),
      'secret not on the command line',
    );

    await waitForLive(cluster, 'demo', 2);
    const seg = await waitFor(() => fetchSegment(relayUrl), {
      timeoutMs: 30_000,
      what: 'a segment from the relay',
    });
    t.true(seg.bytes > 0);
    t.is(seg.relay, ID, 'served by the deployed relay');

    const again = await runDeploy(['ssh', ...args], { timeoutMs: 120_000 });
    t.is(again.code, 0, again.output);
    t.regex(again.stdout, /unchanged, running/);
    t.is(Number(readFileSync(join(relaysDir, `${ID}.relay.pid`), 'utf8')), pid, 'same relay process');
    t.true(alive(pid));

    const unit = join(relaysDir, `${ID}.service`);
    const verify = spawnSync('/usr/bin/systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    if (verify.error || /not been booted|Failed to (connect|initialize)|bus/i.test(verify.stderr)) {
      t.log(
        `systemd-analyze verify cannot run here (${verify.error?.message ?? verify.stderr.trim()}): skipped`,
      );
    } else t.is(verify.status, 0, `systemd-analyze verify ${unit}:\n${verify.stderr}`);
    const text = readFileSync(unit, 'utf8');
    t.regex(text, /^EnvironmentFile=.*\.env$/m);
    t.regex(text, /^Restart=always$/m);
    t.regex(text, /^KillSignal=SIGTERM$/m);
    t.regex(text, /^TimeoutStopSec=16$/m, 'longer than drain-ms');
    t.notRegex(text, new RegExp(cluster.secret));

    // One unreachable host next to the good one: the good one is still handled, the summary says which failed.
    const deadPort = await freePort();
    writeFileSync(
      hostsFile,
      `${good}\nroot@127.0.0.1 port=${deadPort} relay-port=${deadPort} id=dead-relay\n`,
    );
    const partial = await runDeploy(['ssh', ...args, '--connect-timeout', '3s'], { timeoutMs: 120_000 });
    t.is(partial.code, 1, partial.output);
    t.regex(partial.stderr, new RegExp(`root@127\\.0\\.0\\.1 \\(ssh port ${deadPort}\\) is unreachable`));
    t.regex(partial.stdout, new RegExp(`root@127\\.0\\.0\\.1:${relayPort} +unchanged`));
    t.regex(partial.stdout, new RegExp(`root@127\\.0\\.0\\.1:${deadPort} +failed`));
    t.regex(partial.stderr, new RegExp(`1 of 2 hosts failed .*succeeded: root@127\\.0\\.0\\.1:${relayPort}`));
    writeFileSync(hostsFile, `${good}\n`);

    const status = await runDeploy(['status', ...args]);
    t.is(status.code, 0, status.output);
    t.regex(status.stdout, /running \(pid \d+\), supervisor, .* in ring \(active/);

    const rolled = await runDeploy(['rolling-restart', ...args], { timeoutMs: 120_000 });
    t.is(rolled.code, 0, rolled.output);
    const newPid = Number(readFileSync(join(relaysDir, `${ID}.relay.pid`), 'utf8'));
    t.not(newPid, pid, 'the relay process was replaced');
    t.false(alive(pid));
    t.true(alive(newPid));
    t.is((await ringOf(cluster.coordinator.url)).relays.find((r) => r.url === relayUrl)?.state, 'active');

    const stop = await runDeploy(['stop', ...args], { timeoutMs: 60_000 });
    t.is(stop.code, 0, stop.output);
    await waitFor(() => !alive(newPid), { what: 'relay stopped' });
    t.falsy(
      (await ringOf(cluster.coordinator.url)).relays.find((r) => r.url === relayUrl),
      'gone from the ring',
    );
  },
);
