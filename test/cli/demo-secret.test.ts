import { lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { resolveDemoSecret } from '../../cli/demo-secret.ts';
import { ConfigError } from '../../common/config.ts';

function tempDir(t: { teardown: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-demo-secret-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('--cluster-secret-file wins over RINGCAST_CLUSTER_SECRET', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'mine');
  writeFileSync(file, 'from-the-file-1234\nignored\n', { mode: 0o600 });
  const s = resolveDemoSecret({ file, env: { RINGCAST_CLUSTER_SECRET: 'from-env-1234' }, dataDir: dir });
  t.deepEqual(s, { secret: 'from-the-file-1234', source: 'file', file });
});

test('RINGCAST_CLUSTER_SECRET is honoured and nothing is written', (t) => {
  const dir = tempDir(t);
  const s = resolveDemoSecret({
    file: '',
    env: { RINGCAST_CLUSTER_SECRET: ' from-env-1234 ' },
    dataDir: dir,
  });
  t.deepEqual(s, { secret: 'from-env-1234', source: 'env' });
  t.throws(() => statSync(join(dir, 'cluster-secret')));
});

test('otherwise a new secret goes to <dataDir>/cluster-secret, mode 600 even over an older file', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'cluster-secret');
  writeFileSync(file, 'old\n', { mode: 0o644 });
  const s = resolveDemoSecret({ file: '', env: {}, dataDir: dir });
  t.is(s.source, 'generated');
  t.is(s.file, file);
  t.regex(s.secret, /^[A-Za-z0-9_-]{24}$/);
  t.is(readFileSync(file, 'utf8'), `${s.secret}\n`);
  t.is(statSync(file).mode & 0o777, 0o600);
});

// Before, the secret was written through whatever stood at that name: a symlink to another file got
// that file overwritten with the secret (and made mode 600).
test('a symlink planted as <dataDir>/cluster-secret is replaced, not written through', (t) => {
  const dir = tempDir(t);
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'keep me\n', { mode: 0o644 });
  symlinkSync(victim, join(dir, 'cluster-secret'));
  const s = resolveDemoSecret({ file: '', env: {}, dataDir: dir });
  t.is(readFileSync(victim, 'utf8'), 'keep me\n');
  t.is(statSync(victim).mode & 0o777, 0o644);
  t.true(lstatSync(s.file!).isFile());
  t.is(readFileSync(s.file!, 'utf8'), `${s.secret}\n`);
  t.is(statSync(s.file!).mode & 0o777, 0o600);
});

test('a missing or empty secret file is a ConfigError naming the option', (t) => {
  const dir = tempDir(t);
  const empty = join(dir, 'empty');
  writeFileSync(empty, '\n');
  for (const file of [join(dir, 'absent'), empty]) {
    const err = t.throws(() => resolveDemoSecret({ file, env: {}, dataDir: dir }), {
      instanceOf: ConfigError,
    });
    t.regex(err!.message, /'clusterSecretFile' .* (cannot be read|is empty)/);
  }
});
