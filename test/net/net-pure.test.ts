import test from 'ava';
import { badHostNames } from '../../harness/net/lab.ts';
import {
  lateQuantileUs,
  linkCommand,
  mergeLink,
  openLink,
  parseStats,
  queueBytesFor,
} from '../../harness/net/link-spec.ts';
import { hostSetupBatch, ownerPid, parseNetnsList, staleLabNamespaces } from '../../harness/net/netns.ts';
import { parseSnmp, quantile } from '../../harness/net/probes.ts';

test('mergeLink keeps what the patch leaves and names every bad key', (t) => {
  t.deepEqual(mergeLink(openLink, { delayMs: 30 }), { ...openLink, delayMs: 30 });
  t.deepEqual(mergeLink({ ...openLink, lossPct: 1 }, { up: false }), { ...openLink, lossPct: 1, up: false });
  const cases: [Partial<typeof openLink>, RegExp][] = [
    [{ delayMs: -1 }, /'delayMs' must be a number ≥ 0/],
    [{ lossPct: 101 }, /'lossPct' must be at most 100/],
    [{ rateMbit: Number.NaN, jitterMs: -2 }, /'jitterMs'.*'rateMbit'/],
    [{ up: 'no' as unknown as boolean }, /'up' must be true or false/],
  ];
  for (const [patch, message] of cases)
    t.throws(() => mergeLink(openLink, patch), { message }, JSON.stringify(patch));
});

test('queueBytesFor: as given, else 100 ms at the rate, at least ten packets', (t) => {
  const cases: [number, number, number][] = [
    // rateMbit, queueBytes, expected
    [0, 0, 15_000],
    [1, 0, 15_000],
    [6, 0, 75_000],
    [100, 0, 1_250_000],
    [6, 4000, 4000],
  ];
  for (const [rateMbit, queueBytes, want] of cases) {
    t.is(queueBytesFor({ ...openLink, rateMbit, queueBytes }), want, `${rateMbit} Mbit/s, ${queueBytes} B`);
  }
});

test('linkCommand converts to the emulator units (µs, ppm, bit/s)', (t) => {
  const cases: [Partial<typeof openLink>, string][] = [
    [{}, 'link 0 1 0 0 0 0 15000 1'],
    [{ delayMs: 30, jitterMs: 2.5, lossPct: 0.5 }, 'link 0 1 30000 2500 5000 0 15000 1'],
    [{ rateMbit: 6 }, 'link 0 1 0 0 0 6000000 75000 1'],
    [{ up: false, lossPct: 100 }, 'link 0 1 0 0 1000000 0 15000 0'],
  ];
  for (const [patch, want] of cases) t.is(linkCommand(0, 1, mergeLink(openLink, patch)), want);
});

test('parseStats names hosts and refuses other lines', (t) => {
  t.deepEqual(parseStats('stats 3 4 100 60 0,1,2,1 0,1,10,1,2,3,4;1,0,9,0,0,0,0;', ['a', 'b']), {
    unroutable: 3,
    timing: { heldPackets: 4, meanLateUs: 25, p50LateUs: 4, p99LateUs: 60, maxLateUs: 60 },
    links: [
      { from: 'a', to: 'b', forwarded: 10, lost: 1, queueDropped: 2, downDropped: 3, writeDropped: 4 },
      { from: 'b', to: 'a', forwarded: 9, lost: 0, queueDropped: 0, downDropped: 0, writeDropped: 0 },
    ],
  });
  t.deepEqual(parseStats('stats 0 0 0 0 0,0 ', ['a']), {
    unroutable: 0,
    timing: { heldPackets: 0, meanLateUs: 0, p50LateUs: 0, p99LateUs: 0, maxLateUs: 0 },
    links: [],
  });
  t.throws(() => parseStats('ok', []), { message: /not a stats line/ });
  t.throws(() => parseStats('stats 3 0,1,10,1,2,3,4;', ['a', 'b']), { message: /not a stats line/ });
});

test('lateQuantileUs reads bounds from the power-of-two histogram', (t) => {
  const cases: [number[], number, number, number][] = [
    // histogram, q, max µs, expected bound
    [[0, 0, 0], 0.5, 0, 0],
    [[10, 0, 0], 0.5, 1, 1],
    [[1, 8, 1], 0.5, 3, 2],
    [[1, 8, 1], 0.99, 900, 900],
    [[0, 0, 4, 0, 0], 0.99, 3, 3],
  ];
  for (const [hist, q, max, want] of cases) t.is(lateQuantileUs(hist, q, max), want, `${hist} q${q}`);
});

test('namespace names: list parsing, owners, stale ones', (t) => {
  t.deepEqual(parseNetnsList('rc-12-0-1 (id: 3)\nrc-12-0-0\n\nother\n'), ['rc-12-0-1', 'rc-12-0-0', 'other']);
  const owners: [string, number | null][] = [
    ['rc-12-0-1', 12],
    ['rc-4194304-10-63', 4194304],
    ['rc-12-0', null],
    ['rcx-12-0-1', null],
    ['other', null],
  ];
  for (const [name, pid] of owners) t.is(ownerPid(name), pid, name);
  const names = ['rc-1-0-0', 'rc-2-0-0', 'rc-3-0-0', 'rc-4-0-0', `rc-${process.pid}-0-0`, 'mine'];
  const alive = (pid: number) => pid === 2;
  const wired = (netns: string) => netns === 'rc-3-0-0';
  // 2 is alive, 3's emulator still holds its eth0 (alive in another pid namespace), ours is ours.
  t.deepEqual(staleLabNamespaces(names, alive, wired), ['rc-1-0-0', 'rc-4-0-0']);
});

test('hostSetupBatch renames the TUN to eth0 and addresses it', (t) => {
  t.is(
    hostSetupBatch('rcx-0-1', '10.77.5.2', 24),
    'link set lo up\nlink set rcx-0-1 name eth0\naddr add 10.77.5.2/24 dev eth0\nlink set eth0 up',
  );
});

test('quantile by nearest rank', (t) => {
  const cases: [number[], number, number][] = [
    [[3, 1, 2], 0.5, 2],
    [[1, 2, 3, 4], 0.5, 2],
    [[1, 2, 3, 4], 0.95, 4],
    [[5], 0, 5],
  ];
  for (const [values, q, want] of cases) t.is(quantile(values, q), want, `${values} q${q}`);
  t.true(Number.isNaN(quantile([], 0.5)));
});

test('parseSnmp reads a counter by group and name', (t) => {
  const text = [
    'Ip: Forwarding DefaultTTL',
    'Ip: 2 64',
    'Tcp: RtoAlgorithm ActiveOpens RetransSegs',
    'Tcp: 1 5 17',
    '',
  ].join('\n');
  t.is(parseSnmp(text, 'Tcp', 'RetransSegs'), 17);
  t.is(parseSnmp(text, 'Ip', 'DefaultTTL'), 64);
  t.throws(() => parseSnmp(text, 'Udp', 'InErrors'), { message: /no Udp InErrors/ });
});

test('badHostNames says why a host list cannot make a lab', (t) => {
  const cases: [string[], string | null][] = [
    [['origin', 'relay'], null],
    [['solo'], null],
    [[], 'a lab has 1 to 64 hosts, not 0'],
    [Array.from({ length: 65 }, (_, i) => `h${i}`), 'a lab has 1 to 64 hosts, not 65'],
    [['a', 'b', 'a', 'a'], 'host names must differ: a given twice'],
    [['a', ''], 'host names must not be empty'],
  ];
  for (const [hosts, want] of cases) t.is(badHostNames(hosts), want, hosts.slice(0, 4).join(','));
});
