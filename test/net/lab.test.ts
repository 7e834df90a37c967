// The network lab on real namespaces and the real link emulator: hosts made and removed, and links
// that delay, lose, pace and partition real TCP traffic (docs/network-lab.md). Serial: bulk
// transfers side by side would measure each other's CPU use rather than the links.
import { execFileSync } from 'node:child_process';
import test from 'ava';
import { createLab, type Lab } from '../../harness/net/lab.ts';
import { listNamespaces, pidAlive } from '../../harness/net/netns.ts';
import {
  probeBulk,
  probeConnect,
  probeRtt,
  quantile,
  snmpCounter,
  startProbeServer,
} from '../../harness/net/probes.ts';

/** A two-host lab with a probe server in b, removed when the test ends however it ends. */
async function pair(t: { teardown: (fn: () => Promise<void>) => void }, seed = 7) {
  const lab = await createLab({ hosts: ['a', 'b'], seed });
  t.teardown(() => lab.close());
  const { port } = await startProbeServer(lab, 'b');
  return { lab, port };
}

function linkNames(): string {
  return execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' });
}

test.serial(
  'hosts are namespaces with one address each, and close() removes them and what ran inside',
  async (t) => {
    const lab: Lab = await createLab({ hosts: ['origin', 'relay', 'viewer'] });
    t.teardown(() => lab.close());
    t.deepEqual(
      lab.hosts.map((h) => h.address.split('.')[3]),
      ['1', '2', '3'],
    );
    for (const host of lab.hosts) {
      t.true(listNamespaces().includes(host.netns), host.netns);
      const addr = await lab.run(host.name, 'ip', ['-o', '-4', 'addr', 'show', 'dev', 'eth0']);
      t.regex(addr, new RegExp(`inet ${host.address.replaceAll('.', '\\.')}/24`));
    }
    const sleeper = lab.spawn('relay', 'sleep', ['600']);
    const emulator = lab.emulatorPid!;
    await lab.close();
    const names = listNamespaces();
    for (const host of lab.hosts) t.false(names.includes(host.netns), `${host.netns} removed`);
    t.false(pidAlive(sleeper.pid!), 'process inside stopped');
    t.false(pidAlive(emulator), 'emulator ended');
    // This lab's TUNs only: other tests' labs in this process open theirs in the root namespace too.
    const seq = lab.hosts[0].netns.split('-')[2];
    t.notRegex(linkNames(), new RegExp(`rc${process.pid.toString(36)}-${seq}-`), 'no TUN left');
    await lab.close(); // idempotent
  },
);

test.serial('a 0 ms link carries traffic; a 40 ms link gives an 80 ms round trip', async (t) => {
  const { lab, port } = await pair(t);
  const open = await probeRtt(lab, 'a', 'b', port, 20);
  t.true(quantile(open.rttMs, 0.5) < 20, `0 ms link p50 ${quantile(open.rttMs, 0.5)} ms`);
  await lab.setPath('a', 'b', { delayMs: 40 });
  t.is(lab.link('b', 'a').delayMs, 40);
  const slow = await probeRtt(lab, 'a', 'b', port, 10);
  // The fastest round trip is the link's own: slower ones wait for a CPU on a loaded machine.
  const fastest = Math.min(...slow.rttMs);
  t.true(fastest >= 79.5, `never faster than the links: ${fastest} ms`);
  t.true(fastest < 80 + 20, `fastest ${fastest} ms within tolerance of 80 ms`);
  t.true(slow.connectMs >= 79.5, `the handshake crosses both links: ${slow.connectMs} ms`);
  const { timing } = await lab.stats();
  t.true(timing.heldPackets >= 20, `the emulator reports its timing: ${JSON.stringify(timing)}`);
});

test.serial('loss drops packets on the link and TCP retransmits them', async (t) => {
  const { lab, port } = await pair(t);
  await lab.setLink('a', 'b', { lossPct: 10 });
  const before = await snmpCounter(lab, 'a', 'Tcp', 'RetransSegs');
  const sent = await probeBulk(lab, 'a', 'b', port, 4 * 1024 * 1024);
  t.is(sent.bytes, 4 * 1024 * 1024, 'every byte arrives anyway');
  const retransmitted = (await snmpCounter(lab, 'a', 'Tcp', 'RetransSegs')) - before;
  const ab = (await lab.stats()).links.find((l) => l.from === 'a' && l.to === 'b')!;
  const share = ab.lost / (ab.lost + ab.forwarded);
  t.true(share > 0.06 && share < 0.14, `lost share ${share} near 10%`);
  t.true(retransmitted >= ab.lost * 0.8, `${retransmitted} retransmitted for ${ab.lost} lost`);
});

test.serial('a rate limit caps throughput', async (t) => {
  const { lab, port } = await pair(t);
  await lab.setLink('a', 'b', { rateMbit: 8 });
  const paced = await probeBulk(lab, 'a', 'b', port, 1536 * 1024);
  t.true(paced.mbitPerS < 8.5, `${paced.mbitPerS} Mbit/s through an 8 Mbit/s link`);
  t.true(paced.mbitPerS > 4, `${paced.mbitPerS} Mbit/s: the link is used, not starved`);
});

test.serial('a partition makes a connect time out, and healing it lets the next one through', async (t) => {
  const { lab, port } = await pair(t);
  await lab.partition('a', 'b');
  const cut = await probeConnect(lab, 'a', 'b', port, 1000);
  t.deepEqual(cut, { ok: false, error: 'timeout' });
  t.true(
    (await lab.stats()).links.some((l) => l.from === 'a' && l.downDropped > 0),
    'the SYN was dropped',
  );
  await lab.heal('a', 'b');
  const healed = await probeConnect(lab, 'a', 'b', port, 5000);
  t.true(healed.ok, JSON.stringify(healed));
});
