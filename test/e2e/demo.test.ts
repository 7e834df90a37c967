import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type DemoCluster, growCommand, startDemoCluster } from '../../cli/demo.ts';
import type { ClusterView } from '../../common/types.ts';
import { TEST_LADDER } from '../../harness/cluster.ts';
import { getText, waitFor } from '../../harness/wait.ts';
import { killLocalRelays, runDeploy } from '../deploy/helpers.ts';

// The demo as a new user meets it: `ringcast demo` with a tiny ladder on OS-chosen ports. A part that
// is SIGKILLed is started again on its ports, the terminal says so, and the stream goes on.

const dir = mkdtempSync(join(tmpdir(), 'ringcast-demo-test-'));
const said: string[] = [];
let demo: DemoCluster | undefined;

test.before(async () => {
  demo = await startDemoCluster(
    {
      relays: 2,
      host: '127.0.0.1',
      port: 0,
      rtmpPort: 0,
      source: 'testsrc',
      streamKey: '',
      clusterSecretFile: '',
      ladder: TEST_LADDER,
      dataDir: dir,
      lowLatency: false,
      tls: false,
      rtmpsPort: 0,
    },
    {
      env: { RINGCAST_ORIGIN_FPS: '15', RINGCAST_ORIGIN_TESTSRC_SIZE: '320x180', RINGCAST_LOG_LEVEL: 'info' },
      say: (line) => said.push(line),
    },
  );
});

test.after.always(async () => {
  await demo?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const cluster = async () =>
  JSON.parse(await getText(`${demo!.coordinator.url}/api/v1/cluster`)) as ClusterView;
const saidLine = (re: RegExp, what: string) =>
  waitFor(() => said.find((l) => re.test(l)), {
    timeoutMs: 15_000,
    what: `${what} (said: ${said.join(' | ')})`,
  });

/** The playlist of rendition 180p on `base` with its segments' names, numbers and bytes' digests. */
async function window(base: string) {
  const text = await getText(`${base}/live/demo/180p/index.m3u8`);
  const files = text.split('\n').filter((l) => l.endsWith('.m4s'));
  const digests = new Map<string, string>();
  for (const f of files) {
    const res = await fetch(`${base}/live/demo/180p/${f}`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`${f}: ${res.status}`);
    digests.set(
      f,
      createHash('sha256')
        .update(Buffer.from(await res.arrayBuffer()))
        .digest('hex'),
    );
  }
  const msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? -1);
  const dsn = Number(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
  return { text, files, digests, msn, lastMsn: msn + files.length - 1, dsn };
}

/** Every process below `pid` (children, grandchildren: ffmpeg). */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parentOf.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Gone meanwhile.
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parentOf) {
      if (parent !== p) continue;
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

test.serial(
  'no secret or stream key on any command line; the generated secret is in a 0600 file',
  async (t) => {
    await waitFor(async () => (await cluster()).streams.some((s) => s.state === 'live'), { what: 'live' });
    const pids = descendants(process.pid);
    t.true(pids.length >= 5, `coordinator, origin, relays, ffmpeg: ${pids}`);
    for (const pid of pids) {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      t.false(cmdline.includes(demo!.secret), `secret in ${cmdline}`);
      t.false(cmdline.includes(demo!.streamKey), `stream key in ${cmdline}`);
    }
    const file = demo!.secretInfo.file!;
    t.is(file, join(dir, 'cluster-secret'));
    t.is(statSync(file).mode & 0o777, 0o600);
    t.is(readFileSync(file, 'utf8').trim(), demo!.secret);
  },
);

test.serial(
  'a SIGKILLed relay is restarted on its port, rejoins the ring under its id and serves',
  async (t) => {
    const victim = demo!.relays[0]!;
    const id = victim.id!;
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await saidLine(new RegExp(`^${id} exited \\(signal SIGKILL\\); restarting it in 0\\.5 s$`), 'exit line');
    await saidLine(new RegExp(`^${id} restarted \\(pid \\d+, ${victim.url}\\)$`), 'restart line');
    t.not(demo!.relays[0]!.child.pid, victim.child.pid);
    await waitFor(
      async () =>
        (await cluster()).ring.relays.some(
          (r) => r.id === id && r.url === victim.url && r.state === 'active',
        ),
      { timeoutMs: 15_000, what: `${id} active in the ring again` },
    );
    // The old registration may not have timed out yet: the new process must have registered itself.
    await waitFor(() => demo!.relays[0]!.tail.some((l) => l.includes('registered with coordinator')), {
      what: 'the restarted relay registered',
    });
    t.log(`${id} registered again ${Date.now() - killedAt} ms after the SIGKILL`);
    const w = await waitFor(() => window(victim.url).catch(() => undefined), { what: 'the relay serves' });
    t.true(w.files.length > 0);
  },
);

test.serial('a SIGKILLed origin is restarted: numbers go on, no name reused', async (t) => {
  const relay = demo!.relays[1]!.url;
  const before = await waitFor(() => window(relay).catch(() => undefined), { what: 'a window' });
  const victim = demo!.origin;
  const killedAt = Date.now();
  victim.child.kill('SIGKILL');
  await saidLine(/^origin exited \(signal SIGKILL\); restarting it in 0\.5 s$/, 'exit line');
  await saidLine(new RegExp(`^origin restarted \\(pid \\d+, ${victim.url}\\)$`), 'restart line');
  const after = await waitFor(
    async () => {
      const w = await window(relay).catch(() => undefined);
      // A segment new since the kill; a window that still overlaps the old one is checked below, so a
      // new origin reusing old numbers fails on the digests instead of passing by never overlapping.
      return w && w.lastMsn > before.lastMsn && w.text !== before.text ? w : undefined;
    },
    { timeoutMs: 30_000, what: 'segments of the new origin' },
  );
  t.log(`new origin's segments through a relay ${Date.now() - killedAt} ms after the SIGKILL`);
  // The discontinuity sequence starts again at 0 in the new process (origin/packager.ts says why).
  t.log(`discontinuity sequence ${before.dsn} → ${after.dsn}`);
  t.true(after.msn > before.msn, `media sequence ${before.msn} → ${after.msn}`);
  for (const [file, digest] of after.digests) {
    const old = before.digests.get(file);
    t.true(old === undefined || old === digest, `${file} reused with other bytes`);
  }
});

test.serial('a SIGKILLed coordinator is restarted; the master playlist is offered again', async (t) => {
  const victim = demo!.coordinator;
  const killedAt = Date.now();
  victim.child.kill('SIGKILL');
  await saidLine(/^coordinator exited \(signal SIGKILL\); restarting it in 0\.5 s$/, 'exit line');
  await saidLine(new RegExp(`^coordinator restarted \\(pid \\d+, ${victim.url}\\)$`), 'restart line');
  const master = await waitFor(() => getText(`${victim.url}/live/demo/master.m3u8`).catch(() => undefined), {
    timeoutMs: 20_000,
    what: 'the master playlist again',
  });
  t.log(`master offered again ${Date.now() - killedAt} ms after the SIGKILL`);
  t.regex(master, /180p\/index\.m3u8/);
  await waitFor(async () => (await cluster()).ring.relays.filter((r) => r.state === 'active').length === 2, {
    timeoutMs: 20_000,
    what: 'both relays registered again',
  });
});

test.serial('the printed deploy-relays command grows the running demo with its secret file', async (t) => {
  t.timeout(90_000);
  const command = growCommand(demo!);
  t.regex(command, /^scripts\/deploy-relays local --count 2 /);
  const args = command.split(' ').slice(1);
  const grownDir = join(dir, 'more-relays');
  t.teardown(() => killLocalRelays(grownDir));
  const grow = await runDeploy(args);
  t.is(grow.code, 0, grow.output);
  const ring = (await cluster()).ring.relays;
  t.is(ring.filter((r) => r.state === 'active').length, 4, JSON.stringify(ring));
  const stop = await runDeploy(['stop', '--dir', grownDir]);
  t.is(stop.code, 0, stop.output);
});
