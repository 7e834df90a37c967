import { execFileSync } from 'node:child_process';
import test from 'ava';
import { silentLogger } from '../../common/log.ts';
import { waitFor } from '../../harness/wait.ts';
import { FfmpegSupervisor, type RunEndData } from '../../origin/ffmpeg-supervisor.ts';

// The supervisor runs any command: a shell script stands in for ffmpeg, so no CPU goes to encoding.
const RETRY = { maxNumRetry: Number.POSITIVE_INFINITY, retryDelayMs: 20, maxRetryDelayMs: 100 };

function supervisor(script: string, opts: { stallTimeoutMs?: number; startTimeoutMs?: number } = {}) {
  const ends: RunEndData[] = [];
  const starts: string[] = [];
  const s = new FfmpegSupervisor({
    ffmpegPath: '/bin/sh',
    buildArgs: (runId) => ['-c', script, 'sh', runId],
    log: silentLogger(),
    retry: RETRY,
    stallTimeoutMs: opts.stallTimeoutMs ?? 60_000,
    startTimeoutMs: opts.startTimeoutMs ?? 60_000,
    killTimeoutMs: 500,
    onRunStart: (id) => starts.push(id),
    onRunEnd: (d) => ends.push(d),
  });
  return { s, ends, starts };
}

const alive = (pattern: string) => {
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).trim().length > 0;
  } catch {
    return false;
  }
};

test('a crash is restarted with the real exit code and the last stderr lines', async (t) => {
  const { s, ends, starts } = supervisor('echo "first line" >&2; echo "boom: bad input" >&2; exit 3');
  s.start();
  await waitFor(() => ends.length >= 2, { what: 'two runs' });
  await s.stop();
  t.is(ends[0]!.code, 3);
  t.false(ends[0]!.requested);
  t.deepEqual(ends[0]!.stderrTail, ['first line', 'boom: bad input']);
  t.true(new Set(starts).size >= 2, 'every run has its own id');
});

test('a run without progress is killed as stalled, then restarted', async (t) => {
  const { s, ends } = supervisor('sleep 30', { startTimeoutMs: 300 });
  s.start();
  await waitFor(() => ends.length >= 1, { what: 'stall kill' });
  t.is(ends[0]!.signal, 'SIGKILL');
  await waitFor(() => s.currentRunId !== undefined, { what: 'restart' });
  await s.stop();
  t.pass();
});

test('progress keeps a run alive; stop ends its whole process group', async (t) => {
  const marker = `ringcast-supervisor-test-${process.pid}-${Date.now()}`;
  // A grandchild that ignores SIGTERM: only the group SIGKILL after killTimeoutMs ends it.
  const { s, ends } = supervisor(`bash -c 'trap "" TERM; exec -a ${marker} sleep 30' & wait`, {
    stallTimeoutMs: 400,
  });
  s.start();
  const id = await waitFor(() => s.currentRunId);
  const beat = setInterval(() => s.noteProgress(id), 50);
  t.teardown(() => clearInterval(beat));
  await waitFor(() => alive(marker), { what: 'grandchild running' });
  // Showing that nothing kills it takes elapsed time: well past the 400 ms stall timeout.
  await new Promise((resolve) => setTimeout(resolve, 1200));
  t.is(ends.length, 0);
  t.is(s.currentRunId, id);
  await s.stop();
  t.is(ends.length, 1);
  t.true(ends[0]!.requested);
  await waitFor(() => !alive(marker), { timeoutMs: 3000, what: 'grandchild gone' });
  t.pass();
});
