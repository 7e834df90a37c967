import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { PartProcess } from '../../cli/part-process.ts';
import { waitFor } from '../../harness/wait.ts';
import { alive, cleanup, localPids, makeWorkDir, ringOf, runDeploy, startCoordinator } from './helpers.ts';

// One coordinator for the file; each test uses its own state dir. Serial: every relay costs a tsx start.
let coordinator: PartProcess | undefined;
const work = makeWorkDir('local');

test.before(async () => {
  coordinator = await startCoordinator(work.secret, join(work.dir, 'coordinator.log'));
});

test.after.always(async () => {
  await cleanup({
    parts: [coordinator],
    relayDirs: ['fleet', 'lost'].map((d) => join(work.dir, d)),
    dirs: [work.dir],
  });
});

/** `local --count N --dir DIR`, then the flags given. */
const local = (count: number, dir: string, ...flags: string[]) => [
  'local',
  '--count',
  String(count),
  '--dir',
  dir,
  ...flags,
];
/** The coordinator, and the secret read from `file` (the cluster's own by default). */
const common = (file = work.secretFile) => ['--coordinator', coordinator!.url, '--secret-file', file];

test.serial(
  'local --count 3 joins the ring; a second run keeps them; status lists them; stop removes them',
  async (t) => {
    t.timeout(120_000);
    const dir = join(work.dir, 'fleet');
    const args = local(3, dir, '--base-port', '0', '--drain-ms', '500', ...common());

    const first = await runDeploy(args);
    t.is(first.code, 0, first.output);
    const ring = await ringOf(coordinator!.url);
    t.is(ring.relays.length, 3, JSON.stringify(ring));
    t.true(ring.relays.every((r) => r.state === 'active'));
    t.is(new Set(ring.relays.map((r) => new URL(r.url).port)).size, 3, 'distinct ports');
    const pids = localPids(dir);
    t.is(pids.size, 3);
    for (const [file, pid] of pids) {
      t.true(alive(pid), `${file} alive`);
      t.false(
        readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(work.secret),
        'secret not on the command line',
      );
    }
    for (const i of [0, 1, 2]) {
      t.is(statSync(join(dir, `relay-${i}.env`)).mode & 0o777, 0o600, 'env file is mode 600');
      t.true(statSync(join(dir, `relay-${i}.log`)).size > 0, 'log file written');
    }

    const again = await runDeploy(args);
    t.is(again.code, 0, again.output);
    t.is(again.stdout.match(/already running/g)?.length, 3, again.output);
    t.deepEqual(localPids(dir), pids, 'no duplicates, nothing restarted');
    t.is((await ringOf(coordinator!.url)).relays.length, 3);

    const status = await runDeploy(['status', '--dir', dir]);
    t.is(status.code, 0, status.output);
    t.is(status.stdout.match(/running \(pid \d+\).*in ring \(active/g)?.length, 3, status.output);

    const dry = await runDeploy(['stop', '--dir', dir, '--dry-run']);
    t.is(dry.code, 0, dry.output);
    t.is(dry.stdout.match(/would send SIGTERM/g)?.length, 3, dry.output);
    t.true([...pids.values()].every(alive), 'dry run stopped nothing');

    const stop = await runDeploy(['stop', '--dir', dir]);
    t.is(stop.code, 0, stop.output);
    t.is((await ringOf(coordinator!.url)).relays.length, 0, 'gone from the ring');
    await waitFor(() => [...pids.values()].every((pid) => !alive(pid)), { what: 'relay processes gone' });
    const after = await runDeploy(['status', '--dir', dir]);
    t.is(after.code, 3, after.output);
    t.is(after.stdout.match(/stopped, .*not in ring/g)?.length, 3, after.output);
  },
);

test.serial('a missing or empty secret file is a clear error (exit 2) and starts nothing', async (t) => {
  const dir = join(work.dir, 'nosecret');
  const missing = await runDeploy(local(1, dir, '--coordinator', coordinator!.url));
  t.is(missing.code, 2, missing.output);
  t.regex(missing.stderr, /no cluster secret: pass --secret-file/);
  const nofile = join(work.dir, 'no-such-secret');
  const absent = await runDeploy(local(1, dir, ...common(nofile)));
  t.is(absent.code, 2, absent.output);
  t.regex(absent.stderr, /secret file .*no-such-secret does not exist/);
  const emptyFile = join(work.dir, 'empty-secret');
  writeFileSync(emptyFile, '\n', { mode: 0o600 });
  const empty = await runDeploy(local(1, dir, ...common(emptyFile)));
  t.is(empty.code, 2, empty.output);
  t.regex(empty.stderr, /secret file .*empty-secret is empty/);
  t.is((await ringOf(coordinator!.url)).relays.length, 0);
});

test.serial('--dry-run prints the plan and starts nothing', async (t) => {
  const dir = join(work.dir, 'dry');
  const run = await runDeploy(local(2, dir, '--base-port', '0', '--dry-run', ...common()));
  t.is(run.code, 0, run.output);
  t.is(run.stdout.match(/would start a relay/g)?.length, 2, run.output);
  t.regex(run.stdout, /dry run: nothing was changed/);
  t.is((await ringOf(coordinator!.url)).relays.length, 0);
});

test.serial('a relay the coordinator never lists: the error shows its last log lines', async (t) => {
  t.timeout(60_000);
  const dir = join(work.dir, 'lost');
  const wrong = join(work.dir, 'wrong-secret');
  writeFileSync(wrong, 'not-the-cluster-secret\n', { mode: 0o600 });
  const run = await runDeploy(local(1, dir, '--base-port', '0', '--join-timeout', '3s', ...common(wrong)));
  t.is(run.code, 1, run.output);
  t.regex(run.stderr, /never listed http:\/\/127\.0\.0\.1:\d+ as active within 3000 ms/);
  t.regex(run.stderr, /"msg":"listening"/, 'the relay log lines are shown');
  t.false(run.stderr.includes('not-the-cluster-secret'), 'the secret is not printed');
});
