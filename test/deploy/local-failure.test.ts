import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import test from 'ava';
import type { PartProcess } from '../../cli/part-process.ts';
import { waitFor } from '../../harness/wait.ts';
import { alive, cleanup, makeWorkDir, ringOf, runDeploy, startCoordinator } from './helpers.ts';

// `scripts/deploy-relays local` that fails half way leaves nothing running, and `stop` removes what an
// interrupted start left behind (a pid file without a record, its relay still running).

let coordinator: PartProcess | undefined;
const work = makeWorkDir('local-failure');
const BIN = new URL('../../bin/ringcast.js', import.meta.url).pathname;

test.before(async () => {
  coordinator = await startCoordinator(work.secret, join(work.dir, 'coordinator.log'));
});

test.after.always(async () => {
  await cleanup({
    parts: [coordinator],
    relayDirs: ['taken', 'leftover'].map((d) => join(work.dir, d)),
    dirs: [work.dir],
  });
});

const listen = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
const close = (s: Server) => new Promise<void>((resolve) => s.close(() => resolve()));

/** A port held by the test, with the one below it free (for the first relay). */
async function takenPortAboveFree(): Promise<{ held: Server; port: number }> {
  for (;;) {
    const held = await listen(0);
    const port = (held.address() as { port: number }).port;
    const below = await listen(port - 1).catch(() => undefined);
    if (below) {
      await close(below);
      return { held, port };
    }
    await close(held);
  }
}

test.serial('a start that fails half way (second port taken) stops the relay it started', async (t) => {
  t.timeout(90_000);
  const dir = join(work.dir, 'taken');
  const { held, port } = await takenPortAboveFree();
  t.teardown(() => close(held));
  const run = await runDeploy([
    'local',
    '--count',
    '2',
    '--base-port',
    String(port - 1),
    '--drain-ms',
    '200',
    '--dir',
    dir,
    '--coordinator',
    coordinator!.url,
    '--secret-file',
    work.secretFile,
  ]);
  t.is(run.code, 1, run.output);
  t.regex(run.stderr, new RegExp(`relay-${port}: relay ended .*EADDRINUSE`, 's'), run.output);
  t.regex(run.stdout, new RegExp(`\\[relay-${port - 1}\\] stopped: the start failed`), run.output);
  const files = readdirSync(dir);
  t.deepEqual(
    files.filter((f) => /\.(pid|env|json)$/.test(f)),
    [],
    `no pid, env or record files: ${files}`,
  );
  const ring = await waitFor(
    async () => {
      const r = await ringOf(coordinator!.url);
      return r.relays.length === 0 ? r : undefined;
    },
    { what: 'the ring empty again' },
  );
  t.is(ring.relays.length, 0);
  // Nothing listens on the first relay's port any more.
  await close(await listen(port - 1));
});

test.serial('stop removes the leftover of an interrupted start (pid file, no record)', async (t) => {
  t.timeout(60_000);
  const dir = join(work.dir, 'leftover');
  mkdirSync(dir, { recursive: true });
  // What an interrupted `local` leaves: a detached relay and its pid file, no relay-0.json yet.
  const log = openSync(join(dir, 'relay-0.log'), 'a');
  const child = spawn(
    process.execPath,
    [BIN, 'relay', '--port', '0', '--coordinator-url', coordinator!.url],
    {
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...process.env, RINGCAST_CLUSTER_SECRET: work.secret },
    },
  );
  closeSync(log);
  child.unref();
  t.teardown(() => {
    if (child.pid && alive(child.pid)) process.kill(child.pid, 'SIGKILL');
  });
  writeFileSync(join(dir, 'relay-0.pid'), `${child.pid}\n`);
  await waitFor(() => alive(child.pid!), { what: 'the leftover relay runs' });

  const stop = await runDeploy(['stop', '--dir', dir]);
  t.is(stop.code, 0, stop.output);
  t.regex(stop.stdout, /\[relay #0\] leftover of an interrupted start \(pid \d+\) stopped/, stop.output);
  await waitFor(() => !alive(child.pid!), { what: 'the leftover relay gone' });
  t.false(existsSync(join(dir, 'relay-0.pid')), 'pid file removed');
});
