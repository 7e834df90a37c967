import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { tokenFor } from '../../cli/token.ts';
import { call, putStream, registerRelay, SECRET, startCoordinator } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/ringcast.js', import.meta.url));

const execRingcast = promisify(execFile);

/** Runs `ringcast …` as a child (the coordinator under test lives in this process); never rejects. */
async function ringcast(args: string[], env: Record<string, string>) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RINGCAST_')));
  try {
    const out = await execRingcast(process.execPath, [BIN, ...args], {
      env: { ...clean, ...env },
      timeout: 30_000,
    });
    return { code: 0, ...out };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test('streams add --private, then ringcast token: the printed URL plays, the plain one is refused', async (t) => {
  const c = await startCoordinator({ relayTimeoutMs: 60_000 });
  t.teardown(() => c.close());
  await registerRelay(c.url, 'r1', 'http://127.0.0.1:9001');
  const env = { RINGCAST_CLUSTER_SECRET: SECRET };
  const add = await ringcast(['streams', 'add', 'concert', '--private', '--coordinator-url', c.url], env);
  t.is(add.code, 0, add.stderr);
  t.regex(add.stdout, /ringcast token concert/);
  await putStream(c.url, 'concert');
  const list = await ringcast(['streams', 'list', '--coordinator-url', c.url], env);
  t.regex(list.stdout, /^concert +active +live +token /m);
  t.true((await call(`${c.url}/api/v1/streams/concert`)).body.stream.private);
  const minted = await ringcast(['token', 'concert', '--ttl', '2m', '--url', c.url], env);
  t.is(minted.code, 0, minted.stderr);
  const url = /URL: +(\S+)/.exec(minted.stdout)?.[1] ?? '';
  t.true(url.startsWith(`${c.url}/t/`));
  t.is((await fetch(url)).status, 200);
  t.is((await fetch(`${c.url}/live/concert/master.m3u8`)).status, 403);
  // Keys from the environment: a token signed with a key the coordinator does not list is refused.
  const other = await ringcast(['token', 'concert', '--url', c.url], {
    RINGCAST_PLAYBACK_KEYS: 'k9=another-secret-0123456',
  });
  t.is(other.code, 0, other.stderr);
  const otherUrl = /URL: +(\S+)/.exec(other.stdout)?.[1] ?? '';
  t.is((await fetch(otherUrl)).status, 403);
});

test('ringcast token: ttl, network, stream and key refusals are usage errors', (t) => {
  process.env.RINGCAST_CLUSTER_SECRET = SECRET;
  t.teardown(() => delete process.env.RINGCAST_CLUSTER_SECRET);
  const now = Date.UTC(2026, 0, 1);
  const { data } = tokenFor(['demo', '--ttl', '10m'], now);
  t.is(data.expiresAt, new Date(now + 600_000).toISOString());
  t.true(data.url.endsWith(`/t/${data.token}/live/demo/master.m3u8`));
  for (const argv of [
    ['demo', '--ttl', '5s'],
    ['demo', '--ttl', '8d'],
    ['demo', '--ttl', 'soon'],
    ['demo', '--network', '10.0.0.0/40'],
    ['../etc'],
    [],
    ['demo', '--playback-keys', 'k1=short'],
    ['demo', '--cluster-secret', 'x'],
  ])
    t.throws(() => tokenFor(argv, now), { message: /./ }, argv.join(' '));
});
