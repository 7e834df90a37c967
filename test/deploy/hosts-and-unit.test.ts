import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { DEPLOY_ERROR_EXIT_STATUS, DeployError } from '../../scripts/deploy/errors.ts';
import { readHostsFile, readSettings, targetHost } from '../../scripts/deploy/hosts-file.ts';
import { startFailure } from '../../scripts/deploy/local-fleet.ts';
import { parseDurationMs, parseOptions } from '../../scripts/deploy/options.ts';
import {
  remoteLayout,
  renderSupervisor,
  renderTemplate,
  renderUnit,
} from '../../scripts/deploy/remote-layout.ts';
import { envFileText, parseEnvFile, readSecret } from '../../scripts/deploy/secret.ts';

const dir = mkdtempSync(join(tmpdir(), 'ringcast-deploy-unit-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const opts = parseOptions(['ssh', '--hosts', 'x', '--remote-dir', '/srv/ringcast', '--drain-ms', '4000']);

function hosts(text: string) {
  const file = join(dir, `hosts-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, text);
  return readHostsFile(file, opts);
}

test('hosts file: defaults, settings, comments', (t) => {
  const [a, b] = hosts(
    '# fleet\n\nroot@10.0.0.5\ndeploy@relay2.example.net port=2222 relay-port=8082 public-url=https://r2.example.net/ capacity=2 run-as=ringcast # big one\n',
  );
  t.like(a, {
    target: 'root@10.0.0.5',
    hostname: '10.0.0.5',
    sshPort: 22,
    relayPort: 8081,
    listen: '0.0.0.0',
    publicUrl: 'http://10.0.0.5:8081',
    id: 'relay-10-0-0-5-8081',
    remoteDir: '/srv/ringcast',
    relay: { drainMs: 4000, capacity: 1, cacheBytes: 256 * 1024 * 1024 },
  });
  t.like(b, {
    sshPort: 2222,
    relayPort: 8082,
    publicUrl: 'https://r2.example.net',
    runAs: 'ringcast',
    relay: { capacity: 2, drainMs: 4000, cacheBytes: 256 * 1024 * 1024 },
  });
});

test('hosts file: every bad line is reported with its line number', (t) => {
  const err = t.throws(
    () => hosts('root@a relay-port=99999\nroot@b colour=blue\nroot@c id=x\nroot@d id=x\n"bad host"\n'),
    { instanceOf: DeployError },
  );
  t.is(err.code, 'DEPLOY_HOSTS_FILE');
  t.is(err.exitStatus, 2);
  t.regex(err.message, /:1: 'relay-port' must be a whole number from 1 to 65535/);
  t.regex(err.message, /:2: unknown or incomplete setting 'colour=blue'/);
  t.regex(err.message, /:4: relay id 'x' already used on line 3/);
  t.regex(err.message, /:5: '"bad' is not \[user@\]host/);
});

test('durations and options', (t) => {
  t.is(parseDurationMs('500ms'), 500);
  t.is(parseDurationMs('30s'), 30_000);
  t.is(parseDurationMs('2m'), 120_000);
  t.is(parseDurationMs('5'), 5000);
  t.is(parseDurationMs('soon'), undefined);
  const err = t.throws(() => parseOptions(['local', '--base-port', 'x', '--nope']), {
    instanceOf: DeployError,
  });
  t.regex(err.message, /'local' needs --count N/);
  t.regex(err.message, /'--base-port' must be a whole number \(got 'x'\)/);
  t.regex(err.message, /unknown option '--nope'/);
});

test('secret: read from a file, quoted in the env file, refused when unusable', (t) => {
  const file = join(dir, 'secret');
  writeFileSync(file, 'abc123-secret_XYZ\n');
  const secret = readSecret(file);
  t.is(secret, 'abc123-secret_XYZ');
  t.deepEqual(parseEnvFile(envFileText(secret)), { RINGCAST_CLUSTER_SECRET: secret });
  writeFileSync(file, "has 'quote' and space\n");
  t.throws(() => readSecret(file), { message: /printable ASCII without spaces, quotes/ });
  writeFileSync(file, 'short\n');
  t.throws(() => readSecret(file), { message: /shorter than 8/ });
});

test('templates: a line whose value is empty is left out; % is escaped for systemd', (t) => {
  t.is(renderTemplate('a={{A}}\nUser={{U}}\nb', { A: '1', U: '' }), 'a=1\nb');
  t.throws(() => renderTemplate('{{MISSING}}', {}), { message: /MISSING/ });
  const [h] = hosts('root@10.0.0.5 public-url=http://10.0.0.5:8081\n');
  const unit = renderUnit(h!, remoteLayout(h!), '/usr/bin/node', 'http://coord.example.net/a%20b');
  t.regex(unit, /--coordinator-url http:\/\/coord\.example\.net\/a%%20b/);
  t.notRegex(unit, /^User=/m);
  t.regex(unit, /^TimeoutStopSec=19$/m, '4 s drain + 15 s');
  const sup = renderSupervisor(h!, remoteLayout(h!), '/usr/bin/node', 'http://coord.example.net');
  t.regex(sup, /^\. '\/srv\/ringcast\/relays\/relay-10-0-0-5-8081\.env'$/m);
});

test('the rendered unit with User= passes systemd-analyze verify', (t) => {
  const remote = join(dir, 'remote');
  // An existing unprivileged user ('nobody' is refused by systemd as unsafe to share).
  const user = /^daemon:/m.test(readFileSync('/etc/passwd', 'utf8')) ? 'daemon' : 'root';
  const [h] = hosts(`root@127.0.0.1 run-as=${user} remote-dir=${remote}\n`);
  const layout = remoteLayout(h!);
  // verify checks that ExecStart's binary and the EnvironmentFile's directory exist.
  spawnSync('mkdir', ['-p', layout.appDir, layout.relaysDir]);
  writeFileSync(layout.envFile, envFileText('verify-secret-1'), { mode: 0o600 });
  const unitFile = join(dir, layout.unitName);
  writeFileSync(unitFile, renderUnit(h!, layout, process.execPath, 'http://127.0.0.1:8080'));
  const r = spawnSync('/usr/bin/systemd-analyze', ['verify', unitFile], { encoding: 'utf8' });
  if (r.error) {
    t.log(`systemd-analyze cannot run here (${r.error.message}): assertion skipped`);
    t.pass();
    return;
  }
  t.is(r.status, 0, r.stderr);
  t.is(r.stderr.trim(), '', 'verify is clean');
  t.regex(readFileSync(unitFile, 'utf8'), new RegExp(`^User=${user}$`, 'm'));
});

test('docs/operations.md lists every error code with its exit status, and no other', (t) => {
  const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  const rows = new Map(
    [...doc.matchAll(/^\| `(DEPLOY_[A-Z_]+)` \| (\d) \|/gm)].map((m) => [m[1]!, Number(m[2])] as const),
  );
  t.deepEqual(Object.fromEntries(rows), { ...DEPLOY_ERROR_EXIT_STATUS });
});

test('hosts file: targetHost reads [user@]host, IPv6 in brackets', (t) => {
  const cases: [string, string | undefined][] = [
    ['10.0.0.5', '10.0.0.5'],
    ['root@relay1.example.net', 'relay1.example.net'],
    ['deploy@[2001:db8::1]', '2001:db8::1'],
    ['Root@host', undefined],
    ['a@b@c', undefined],
    ['host:22', undefined],
    ['', undefined],
  ];
  for (const [target, want] of cases) t.is(targetHost(target), want, target);
});

test('hosts file: readSettings keeps known key=value pairs and names the rest', (t) => {
  const cases: [string[], [string, string][], string[]][] = [
    [
      ['port=22', 'id=r1'],
      [
        ['port', '22'],
        ['id', 'r1'],
      ],
      [],
    ],
    [['port=a=b'], [['port', 'a=b']], []],
    [
      ['colour=red', 'port', '=1'],
      [],
      [
        "unknown or incomplete setting 'colour=red'",
        "unknown or incomplete setting 'port'",
        "unknown or incomplete setting '=1'",
      ],
    ],
  ];
  for (const [pairs, want, problems] of cases) {
    const seen: string[] = [];
    t.deepEqual([...readSettings(pairs, (m) => seen.push(m))], want, pairs.join(' '));
    t.deepEqual(seen, problems, pairs.join(' '));
  }
});

test('options: the usage problems of an action with its flags, every one named', (t) => {
  const cases: [string[], string | undefined][] = [
    [['local', '--count', '2', '--coordinator', 'http://c:8080'], undefined],
    [['local'], "'local' needs --count N"],
    [['ssh'], "'ssh' needs --hosts FILE"],
    [['local', '--count', '0'], "'--count' must be between 1 and 64"],
    [['local', '--count', '65'], "'--count' must be between 1 and 64"],
    [['local', '--count', '1', '--base-port', '70000'], "'--base-port' must be at most 65535"],
    [['status', '--coordinator', 'c:8080'], "'--coordinator' must be an http(s) URL (got 'c:8080')"],
    [['dance'], "unknown action 'dance'"],
  ];
  for (const [argv, problem] of cases) {
    const run = () => parseOptions(argv, '/w');
    if (problem === undefined) t.notThrows(run, argv.join(' '));
    else t.is(t.throws(run)?.message, problem, argv.join(' '));
  }
});

test('options: defaults, and flags over them', (t) => {
  const o = parseOptions(
    ['local', '--count', '2', '--dir', 'relays', '--dry-run', '--coordinator', 'http://c/'],
    '/w',
  );
  t.deepEqual([o.local.count, o.local.dir, o.dryRun, o.coordinatorUrl], [2, '/w/relays', true, 'http://c']);
  t.deepEqual(o.relay, { cacheBytes: 256 * 1024 * 1024, capacity: 1, drainMs: 5000 });
  t.deepEqual([o.drainTimeoutMs, o.joinTimeoutMs, o.ssh.connectTimeoutS], [60_000, 30_000, 10]);
  const s = parseOptions(['ssh', '--hosts', 'h', '--connect-timeout', '400ms', '--dry-run=false'], '/w');
  t.deepEqual(
    [s.ssh.hostsFile, s.ssh.connectTimeoutS, s.dryRun, s.local.count],
    ['/w/h', 1, false, undefined],
  );
});

test('local: startFailure throws one failure as it is, several as one error listing each', (t) => {
  const one = new Error('relay 1: exited');
  t.is(startFailure([one], 3), one);
  const many = startFailure(
    [
      new DeployError('DEPLOY_NOT_IN_RING', 'relay 2: not in the ring', { details: ['log: x'] }),
      new Error('relay 3: exited'),
    ],
    3,
  );
  t.true(many instanceof DeployError);
  const err = many as DeployError;
  t.is(err.code, 'DEPLOY_START_FAILED');
  t.is(err.message, '2 of 3 relays failed to start');
  t.deepEqual(err.details, ['relay 2: not in the ring', 'log: x', 'relay 3: exited']);
});
