import test from 'ava';
import { PartSupervisor } from '../../cli/part-supervisor.ts';
import { waitFor } from '../../harness/wait.ts';

// The demo's restart policy on a real part: a coordinator that is SIGKILLed and then cannot start
// again (a bad flag) is tried again after 0.1 s, 0.2 s, 0.4 s, 0.4 s (capped), one line each; stop()
// ends the retries.

test('back-off doubles up to the cap, one terminal line per attempt; stop ends it', async (t) => {
  t.timeout(60_000);
  const said: string[] = [];
  const sup = new PartSupervisor({
    label: 'coordinator',
    policy: { retryDelayMs: 100, maxRetryDelayMs: 400, resetAfterMs: 60_000 },
    say: (line) => said.push(line),
    spawn: (prev) => ({
      part: 'coordinator',
      args: prev ? ['--no-such-flag'] : ['--port', '0'],
      env: { RINGCAST_CLUSTER_SECRET: 'supervisor-test-secret' },
    }),
  });
  t.teardown(() => sup.stop());
  const first = await sup.start();
  first.child.kill('SIGKILL');
  await waitFor(() => said.length >= 4, { timeoutMs: 40_000, what: `four lines (${said.join(' | ')})` });
  await sup.stop();
  t.regex(said[0]!, /^coordinator exited \(signal SIGKILL\); restarting it in 0\.1 s$/);
  for (const line of said.slice(1))
    t.regex(line, /^coordinator failed to restart: coordinator exited \(2\) before it was ready/);
  t.deepEqual(
    said.slice(0, 4).map((l) => /in ([\d.]+) s$/.exec(l)?.[1]),
    ['0.1', '0.2', '0.4', '0.4'],
  );
  // An absence can only be watched for a while: a second is several attempts at the last delay.
  const count = said.length;
  const stoppedAt = Date.now();
  await waitFor(() => Date.now() - stoppedAt > 1000, { intervalMs: 100 });
  t.is(said.length, count, 'no attempt after stop()');
  t.is(sup.restartCount, 0);
});

// The demo's error path: when one part fails to start, startDemoCluster stops every supervisor while
// the others may still be starting. A part whose start was under way must not be left running.
test('stop() during the first start stops the part once it is up', async (t) => {
  t.timeout(60_000);
  let pid: number | undefined;
  const alive = () => {
    if (pid === undefined) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  t.teardown(() => {
    if (alive()) process.kill(pid!, 'SIGKILL');
  });
  const sup = new PartSupervisor({
    label: 'coordinator',
    say: () => {},
    spawn: () => ({
      part: 'coordinator',
      args: ['--port', '0'],
      env: { RINGCAST_CLUSTER_SECRET: 'supervisor-test-secret' },
      onLog: (line) => {
        if (typeof line.pid === 'number') pid = line.pid;
      },
    }),
  });
  const starting = sup.start();
  await sup.stop();
  const outcome = await starting.then(
    () => 'started',
    (err: Error) => err.message,
  );
  t.not(pid, undefined, 'the part logged its pid');
  await waitFor(() => !alive(), { timeoutMs: 10_000, what: `coordinator ${pid} gone (start: ${outcome})` });
  t.regex(outcome, /stopped while it started/);
});
