/**
 * What the link emulator adds itself, and whether its links do what they say (docs/network-lab.md):
 *   node --import tsx harness/net/measure.ts [--bytes N] [--rtts N] [--no-realtime]
 * Prints one JSON object per figure.
 */
import { parseArgs } from 'node:util';
import { createLab, type Lab } from './lab.ts';
import { probeBulk, probeRtt, quantile, snmpCounter, startProbeServer } from './probes.ts';

const { values } = parseArgs({
  options: {
    bytes: { type: 'string', default: String(64 * 1024 * 1024) },
    rtts: { type: 'string', default: '200' },
    'no-realtime': { type: 'boolean', default: false },
  },
});
const bytes = Number(values.bytes);
const rtts = Number(values.rtts);

function rttFigures(rttMs: number[]) {
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    minMs: round(Math.min(...rttMs)),
    p50Ms: round(quantile(rttMs, 0.5)),
    p95Ms: round(quantile(rttMs, 0.95)),
  };
}

async function measure(lab: Lab) {
  const server = await startProbeServer(lab, 'b');
  const out: Record<string, unknown> = {};
  const probe = new URL('./probe.mjs', import.meta.url).pathname;
  const loopback = await lab.run('b', process.execPath, [
    probe,
    'rtt',
    '127.0.0.1',
    String(server.port),
    String(rtts),
  ]);
  out.loopbackRtt = rttFigures(JSON.parse(loopback).rttMs);
  const loopbackBulk = await lab.run('b', process.execPath, [
    probe,
    'bulk',
    '127.0.0.1',
    String(server.port),
    String(bytes),
  ]);
  out.loopbackThroughput = JSON.parse(loopbackBulk);
  out.emulatedRtt0ms = rttFigures((await probeRtt(lab, 'a', 'b', server.port, rtts)).rttMs);
  out.throughput0ms = await probeBulk(lab, 'a', 'b', server.port, bytes);
  for (const delayMs of [5, 20, 50, 100]) {
    await lab.setPath('a', 'b', { delayMs });
    out[`rtt${delayMs}msLink`] = rttFigures((await probeRtt(lab, 'a', 'b', server.port, 20)).rttMs);
  }
  await lab.setPath('a', 'b', { delayMs: 0, lossPct: 5 });
  const before = await snmpCounter(lab, 'a', 'Tcp', 'RetransSegs');
  out.throughput5pctLoss = await probeBulk(lab, 'a', 'b', server.port, Math.min(bytes, 8 * 1024 * 1024));
  out.retransSegs5pctLoss = (await snmpCounter(lab, 'a', 'Tcp', 'RetransSegs')) - before;
  await lab.setPath('a', 'b', { lossPct: 0, rateMbit: 20 });
  out.throughput20Mbit = await probeBulk(lab, 'a', 'b', server.port, 10 * 1024 * 1024);
  // A home uplink as issue 18 describes the publisher's: 30 ms, 0.5% loss, 6 Mbit/s.
  await lab.setPath('a', 'b', { delayMs: 30, lossPct: 0.5, rateMbit: 6 });
  out.homeUplinkRtt = rttFigures((await probeRtt(lab, 'a', 'b', server.port, 20)).rttMs);
  out.homeUplinkThroughput = await probeBulk(lab, 'a', 'b', server.port, 4 * 1024 * 1024);
  await lab.setPath('a', 'b', { delayMs: 50, jitterMs: 10, lossPct: 0, rateMbit: 0 });
  out.rtt50msJitter10 = rttFigures((await probeRtt(lab, 'a', 'b', server.port, 50)).rttMs);
  const stats = await lab.stats();
  out.emulatorTiming = stats.timing;
  out.linkStats = stats.links;
  return out;
}

const lab = await createLab({ hosts: ['a', 'b'], seed: 1, realtime: !values['no-realtime'] });
try {
  for (const [name, value] of Object.entries(await measure(lab)))
    console.log(JSON.stringify({ [name]: value }));
} finally {
  await lab.close();
}
