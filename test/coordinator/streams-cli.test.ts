import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { call, SECRET, startCoordinator } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/ringcast.js', import.meta.url));

/** Runs `ringcast streams …` without blocking this process (the coordinator under test lives here). */
function ringcast(
  args: string[],
  env: Record<string, string> = { RINGCAST_CLUSTER_SECRET: SECRET },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = { ...process.env };
  for (const k of Object.keys(base)) if (k.startsWith('RINGCAST_')) delete base[k];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, 'streams', ...args],
      { env: { ...base, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const auth = (base: string, key: string) => call(`${base}/api/v1/publish-auth`, { body: { key } });
const keyOf = (stdout: string) => /Stream Key: +(\S+)/.exec(stdout)?.[1] ?? '';

test('streams add prints a key publish-auth accepts, and the OBS settings', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());
  const add = await ringcast(['add', 'demo2', '--coordinator-url', c.url]);
  t.is(add.code, 0, add.stderr);
  const key = keyOf(add.stdout);
  t.regex(key, /^[A-Za-z0-9_-]{24,}$/);
  t.regex(add.stdout, /Server: +rtmp:\/\/127\.0\.0\.1:1935\/live/);
  t.deepEqual((await auth(c.url, key)).body, { streamId: 'demo2' });

  const list = await ringcast(['list', '--coordinator-url', c.url]);
  t.is(list.code, 0);
  t.regex(list.stdout, /^demo2 +active/m);
  t.false(list.stdout.includes(key), 'list never shows a key');

  const rotate = await ringcast([
    'rotate',
    'demo2',
    '--coordinator-url',
    c.url,
    '--rtmp-url',
    'rtmp://ingest.example:1935/live',
  ]);
  t.is(rotate.code, 0, rotate.stderr);
  const key2 = keyOf(rotate.stdout);
  t.regex(rotate.stdout, /Server: +rtmp:\/\/ingest\.example:1935\/live/);
  t.is((await auth(c.url, key)).status, 403);
  t.deepEqual((await auth(c.url, key2)).body, { streamId: 'demo2' });

  t.is((await ringcast(['revoke', 'demo2', '--coordinator-url', c.url])).code, 0);
  t.is((await auth(c.url, key2)).status, 403);
  t.regex((await ringcast(['list', '--coordinator-url', c.url])).stdout, /^demo2 +revoked/m);
  t.is((await ringcast(['remove', 'demo2', '--coordinator-url', c.url])).code, 0);
  const json = await ringcast(['list', '--json', '--coordinator-url', c.url]);
  t.deepEqual(JSON.parse(json.stdout), { streams: [] });
});

test('streams reads the secret from --cluster-secret-file', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'secret');
  writeFileSync(file, `${SECRET}\n`, { mode: 0o600 });
  const add = await ringcast(['add', 'filed', '--coordinator-url', c.url, '--cluster-secret-file', file], {});
  t.is(add.code, 0, add.stderr);
  t.deepEqual((await auth(c.url, keyOf(add.stdout))).body, { streamId: 'filed' });
});

test('streams errors are clear, with exit code 1 for refusals and 2 for usage', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());
  const url = ['--coordinator-url', c.url];
  await ringcast(['add', 'taken', ...url]);

  const dup = await ringcast(['add', 'taken', ...url]);
  t.is(dup.code, 1);
  t.regex(dup.stderr, /already registered/);
  const unknown = await ringcast(['rotate', 'ghost', ...url]);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /stream 'ghost' is not registered/);
  const wrong = await ringcast(['list', ...url], { RINGCAST_CLUSTER_SECRET: 'not-the-secret' });
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /refused the cluster secret/);

  const closedPort = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
  const down = await ringcast(['list', '--coordinator-url', `http://127.0.0.1:${closedPort}`]);
  t.is(down.code, 1);
  t.regex(down.stderr, /cannot reach the coordinator at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);

  const usage: Array<[string[], Record<string, string> | undefined, RegExp]> = [
    [['list', ...url], {}, /no cluster secret/],
    [['add', ...url], undefined, /needs a stream id/],
    [['add', 'bad.id', ...url], undefined, /must match/],
    [['frob'], undefined, /unknown command 'frob'/],
    [['list', '--coordinator-url', 'nope'], undefined, /'coordinatorUrl'/],
    [['add', 'x', '--cluster-secret', SECRET, ...url], undefined, /not taken on the command line/],
  ];
  for (const [args, env, re] of usage) {
    const r = await ringcast(args, env);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, re);
    t.false(r.stderr.includes(SECRET), 'the secret is never echoed');
  }
  const help = await ringcast(['--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /rotate <id>/);
  t.deepEqual(
    (await call(`${c.url}/api/v1/streams`)).body.streams.map((s: { id: string }) => s.id),
    ['taken'],
  );
});
