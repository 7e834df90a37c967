import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import test from 'ava';
import type { TestCluster } from '../../harness/cluster.ts';
import { getText, sumMetric, waitFor } from '../../harness/wait.ts';
import { allAlive, reportOutcomes, startHostileCluster } from './hostile-cluster.ts';
import { OutcomeLog } from './hostile-kit.ts';

// Garbage on the RTMP port of an origin that publishes the test pattern (not RTMP): random bytes,
// HTTP, bad handshakes, many dropped connections. The origin must not exit and the live stream must
// keep publishing. Malformed RTMP messages after a valid handshake: rtmp.test.ts and rtmp-fuzz.test.ts.
let c: TestCluster;
const log = new OutcomeLog();

test.before(async () => {
  c = await startHostileCluster(0);
});

test.after.always(async () => {
  await c?.stop();
  reportOutcomes(log, 'rtmp-garbage');
});

const published = async () =>
  sumMetric(await getText(`${c.origin.url}/metrics`), 'ringcast_origin_segments_published_total');

test.serial('garbage on the RTMP port does not crash the origin or disturb the live stream', async (t) => {
  // Reads better whole: a table of garbage sent in turn, each outcome logged, then the stream checked once.
  const rtmpPort = Number(new URL(c.origin.rtmpUrl!.replace('rtmp:', 'http:')).port);
  const send = (data: Buffer, holdMs = 300) =>
    new Promise<string>((resolve) => {
      const s = connect(rtmpPort, '127.0.0.1');
      let got = 0;
      s.on('data', (d) => {
        got += d.length;
      });
      s.on('error', () => resolve(`reset after ${got} B back`));
      s.on('close', () => resolve(`closed after ${got} B back`));
      s.write(data);
      setTimeout(() => {
        s.destroy();
        resolve(`held open, ${got} B back`);
      }, holdMs);
    });
  const c0c1 = Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)]);
  const cases: [string, () => Promise<string>][] = [
    ['64 KB of random bytes', () => send(randomBytes(65_536))],
    ['an HTTP request', () => send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))],
    ['handshake version 0xFF', () => send(Buffer.concat([Buffer.from([0xff]), randomBytes(1536)]))],
    [
      'valid C0+C1, then random chunks',
      () => send(Buffer.concat([c0c1, randomBytes(1536), randomBytes(8192)]), 800),
    ],
    ['half a handshake, then silence', () => send(c0c1.subarray(0, 700), 1500)],
    [
      '200 connections opened and dropped',
      async () => {
        await Promise.all(Array.from({ length: 200 }, () => send(Buffer.from([3]), 50)));
        return 'all dropped';
      },
    ],
  ];
  for (const [name, run] of cases) {
    const before = await published();
    const outcome = await run();
    await waitFor(async () => (await published()) > before, {
      timeoutMs: 10_000,
      what: 'a segment after the garbage',
    });
    log.add({
      group: 'RTMP garbage',
      target: 'origin RTMP',
      input: name,
      outcome: `${outcome}; stream kept publishing`,
      ok: true,
    });
    t.pass(name);
  }
  await allAlive(t, c);
});
