import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { TEST_LADDER } from '../../harness/cluster.ts';
import { waitFor } from '../../harness/wait.ts';

// `ringcast demo` as a new user runs it: what it prints, and Ctrl-C leaves nothing running.

const BIN = new URL('../../bin/ringcast.js', import.meta.url).pathname;

function runDemo(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [BIN, 'demo', ...args], {
    env: { ...process.env, RINGCAST_CLUSTER_SECRET: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** A demo of one relay on OS-chosen ports with the tiny test ladder, everything in `dir`. */
const runSmallDemo = (dir: string) =>
  runDemo(['--port', '0', '--rtmp-port', '0', '--relays', '1', '--ladder', TEST_LADDER, '--data-dir', dir], {
    RINGCAST_ORIGIN_FPS: '15',
    RINGCAST_ORIGIN_TESTSRC_SIZE: '320x180',
  });

test.serial('an unreadable --cluster-secret-file is refused before anything starts (exit 2)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-demo-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const demo = runDemo(['--cluster-secret-file', join(dir, 'absent'), '--data-dir', dir]);
  t.is(await demo.exited, 2, demo.output());
  t.regex(demo.output(), /'clusterSecretFile' .*absent cannot be read/);
});

test.serial('prints the secret file and the grow command; Ctrl-C stops every part', async (t) => {
  t.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-demo-cli-'));
  const demo = runSmallDemo(dir);
  t.teardown(() => {
    for (const pid of childrenOf(demo.child.pid!)) process.kill(pid, 'SIGKILL');
    demo.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(() => demo.output().includes('Ctrl-C stops everything'), {
    timeoutMs: 40_000,
    what: 'ready',
  });
  const out = demo.output();
  t.regex(
    out,
    new RegExp(`Cluster secret: +${join(dir, 'cluster-secret')} \\(generated for this run, mode 600\\)`),
  );
  t.regex(
    out,
    new RegExp(
      `More relays: +scripts/deploy-relays local --count 2 --base-port \\d+ --dir ${join(dir, 'more-relays')} ` +
        `--secret-file ${join(dir, 'cluster-secret')} --coordinator http://127\\.0\\.0\\.1:\\d+\\n`,
    ),
  );
  const parts = childrenOf(demo.child.pid!);
  t.is(parts.length, 3, 'coordinator, origin, relay');
  demo.child.kill('SIGINT');
  t.is(await demo.exited, 0, demo.output());
  await waitFor(() => parts.every((p) => !alive(p)), { what: 'every part gone' });
  t.notRegex(demo.output(), /exited \(/, 'a stop is not reported as a crash');
});

test.serial('a demo killed by SIGKILL leaves no part running', async (t) => {
  t.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-demo-cli-'));
  const demo = runSmallDemo(dir);
  const parts: number[] = [];
  t.teardown(() => {
    for (const pid of parts) if (alive(pid)) process.kill(pid, 'SIGKILL');
    demo.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(() => demo.output().includes('Ctrl-C stops everything'), {
    timeoutMs: 40_000,
    what: 'ready',
  });
  const children = childrenOf(demo.child.pid!);
  t.is(children.length, 3, 'coordinator, origin, relay');
  // The origin's ffmpeg too: it must not outlive the demo either.
  const grandchildren = children.flatMap(childrenOf);
  t.true(grandchildren.length >= 1, 'ffmpeg');
  parts.push(...children, ...grandchildren);
  demo.child.kill('SIGKILL');
  await waitFor(() => parts.every((p) => !alive(p)), { timeoutMs: 30_000, what: 'every part gone' });
  t.pass();
});
