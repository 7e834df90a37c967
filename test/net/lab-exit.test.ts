// However the owner of a lab ends, nothing stays: SIGTERM removes the lab at once; after SIGKILL
// the next lab made anywhere removes it (its owner's pid is dead and its emulator has gone).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { createLab } from '../../harness/net/lab.ts';
import { listNamespaces, pidAlive } from '../../harness/net/netns.ts';
import { waitFor } from '../../harness/wait.ts';

const fixture = resolve(dirname(fileURLToPath(import.meta.url)), 'fixtures/lab-child.ts');

interface ChildLab {
  netns: string[];
  emulatorPid: number;
  serverPid: number;
}

async function startChildLab(t: { teardown: (fn: () => void) => void }) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fixture], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  const [line] = await once(createInterface({ input: child.stdout! }), 'line');
  return { child, made: JSON.parse(line as string) as ChildLab };
}

test('SIGTERM to the owner removes its namespaces and processes before it dies', async (t) => {
  const { child, made } = await startChildLab(t);
  t.true(made.netns.every((n) => listNamespaces().includes(n)));
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [, signal] = await exited;
  t.is(signal, 'SIGTERM', 'the signal still ends the process');
  const names = listNamespaces();
  t.true(
    made.netns.every((n) => !names.includes(n)),
    'namespaces removed',
  );
  // SIGKILL is sent before the owner dies; the kernel finishes it a moment later.
  await waitFor(() => !pidAlive(made.serverPid), { timeoutMs: 3000, intervalMs: 20, what: 'server stopped' });
  await waitFor(() => !pidAlive(made.emulatorPid), {
    timeoutMs: 3000,
    intervalMs: 20,
    what: 'emulator exit',
  });
  t.pass();
});

test('a lab whose owner was SIGKILLed is removed when the next lab is made', async (t) => {
  const { child, made } = await startChildLab(t);
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  t.true(
    made.netns.every((n) => listNamespaces().includes(n)),
    'left behind by the kill',
  );
  // The emulator dies with its parent (PR_SET_PDEATHSIG); until it has, the lab counts as live.
  await waitFor(() => !pidAlive(made.emulatorPid), {
    timeoutMs: 5000,
    intervalMs: 20,
    what: 'emulator exit',
  });
  const lab = await createLab({ hosts: ['x'] });
  t.teardown(() => lab.close());
  const names = listNamespaces();
  t.true(
    made.netns.every((n) => !names.includes(n)),
    'stale namespaces removed',
  );
  await waitFor(() => !pidAlive(made.serverPid), { timeoutMs: 3000, intervalMs: 20, what: 'orphan killed' });
});
