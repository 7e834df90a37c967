import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { spawnPart, stopPart } from '../../cli/part-process.ts';

const BIN = fileURLToPath(new URL('../../bin/ringcast.js', import.meta.url));

test('ringcast coordinator logs one listening line with its URL and exits 0 on SIGTERM', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const p = await spawnPart({
    part: 'coordinator',
    args: ['--port', '0'],
    env: { RINGCAST_CLUSTER_SECRET: 'main-test-secret', RINGCAST_REDIS_URL: '' },
    onLog: (line) => lines.push(line),
  });
  t.teardown(() => stopPart(p, 2000));
  const health = await (await fetch(`${p.url}/healthz`)).json();
  t.is(health.status, 'ok');
  const listening = lines.filter((l) => l.msg === 'listening');
  t.is(listening.length, 1);
  t.is(listening[0]!.part, 'coordinator');
  p.child.kill('SIGTERM');
  t.is(await p.exited, 0);
});

test('a bad configuration names every bad key and exits 2', (t) => {
  const r = spawnSync(process.execPath, [BIN, 'coordinator', '--port', '-1', '--load-factor', 'x'], {
    env: { ...process.env, RINGCAST_CLUSTER_SECRET: '' },
    encoding: 'utf8',
    timeout: 20_000,
  });
  t.is(r.status, 2);
  t.regex(r.stderr, /'clusterSecret'/);
  t.regex(r.stderr, /'port'/);
  t.regex(r.stderr, /'loadFactor'/);
});
