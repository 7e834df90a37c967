import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { FakeCoordinator } from './fake-coordinator.ts';
import { get, waitFor } from './helpers.ts';

const script = fileURLToPath(new URL('./fixtures/run-relay.ts', import.meta.url));

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import=tsx', script, ...args], {
    env: { ...process.env, RINGCAST_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  return { child, exited, out: () => stdout, err: () => stderr };
}

test('bad configuration prints every problem and exits 2', async (t) => {
  const p = run(['--port', 'abc', '--id', 'bad id!', '--coordinator-url', 'ftp://x']);
  const [code] = await p.exited;
  t.is(code, 2);
  t.regex(p.err(), /'port'/);
  t.regex(p.err(), /'id'/);
  t.regex(p.err(), /'coordinatorUrl'/);
});

test("the relay's own variables apply to it (RINGCAST_RELAY_*), and a bad one is named", async (t) => {
  const p = run([], {
    RINGCAST_PORT: '0',
    RINGCAST_RELAY_PORT: 'eighty',
    RINGCAST_RELAY_COORDINATOR_URL: 'http://127.0.0.1:1',
  });
  const [code] = await p.exited;
  t.is(code, 2);
  t.regex(p.err(), /'port' must be a whole number/);
  t.notRegex(p.err(), /coordinatorUrl/);
});

test('listens, logs one line, drains on SIGTERM and leaves the ring', async (t) => {
  const coord = await new FakeCoordinator().start();
  t.teardown(() => coord.close());
  const p = run([
    '--port',
    '0',
    '--coordinator-url',
    coord.url,
    '--cluster-secret',
    'k',
    '--drain-ms',
    '200',
  ]);
  t.teardown(() => p.child.kill('SIGKILL'));
  await waitFor(() => p.out().includes('"listening"'), 15_000, 'listening line');
  const line = JSON.parse(
    p
      .out()
      .split('\n')
      .find((l) => l.includes('"listening"'))!,
  );
  t.is(line.part, 'relay');
  t.regex(line.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.regex(line.id, /^relay-\d+$/);
  await waitFor(() => coord.relays.has(line.id), 5000, 'registration');
  t.is((await get(`${line.url}/healthz`)).status, 200);
  p.child.kill('SIGTERM');
  const [code] = await p.exited;
  t.is(code, 0);
  const order = coord.calls.filter(
    (c) => c.path.startsWith(`/api/v1/relays/${line.id}`) && !c.path.endsWith('heartbeat'),
  );
  t.deepEqual(
    order.map((c) => c.method),
    ['POST', 'DELETE'],
  );
  t.is(order[0]!.path, `/api/v1/relays/${line.id}/drain`);
});
