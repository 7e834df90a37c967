/**
 * The relay against nginx over TLS (issue 16), in one run, with the same certificate (the demo CA's
 * ECDSA P-256 leaf) and the same negotiated cipher: HTTPS/1.1 (wrk), HTTP/2 (h2load), full TLS
 * handshakes of new clients (h2load, one request per connection), and what token checks cost a private
 * stream's playlists (relay only, plain HTTP/1.1). The relay and nginx's one worker are pinned to core
 * 0, the load generator to core 1; runs alternate for `rounds` rounds and medians are reported, ratios
 * as the median of each round's ratio. The servers' CPU time is read from /proc around each run, so
 * the report also gives requests per server CPU-second: on 2 cores the client can be the limit.
 * Writes its section of docs/benchmarks.md.
 *   npm run bench:tls [-- --seconds 4 --rounds 3 --connections 32 --h2-clients 8 --h2-streams 16]
 */
import { parseArgs } from 'node:util';
import { firstChild } from './lib/nginx-tls.ts';
import { wrk } from './lib/processes.ts';
import { table, writeSection } from './lib/report.ts';
import {
  PLAYLIST_PATH,
  PRIVATE_STREAM,
  PUBLIC_STREAM,
  SEGMENT_PATH,
  startTlsBench,
  type TlsBench,
} from './lib/tls-bench-setup.ts';
import { cpuSeconds, curlGet, h2load, negotiatedTls } from './lib/tls-clients.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    'h2-clients': { type: 'string', default: '8' },
    'h2-streams': { type: 'string', default: '16' },
    'handshake-clients': { type: 'string', default: '400' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const connections = Number(values.connections);
const h2Clients = Number(values['h2-clients']);
const h2Streams = Number(values['h2-streams']);
// Below the listen backlog (511 for both servers): a flash crowd larger than that measures SYN retries.
const handshakeClients = Number(values['handshake-clients']);
const LOAD_CORE = 1;

/** What one load run gave: its rate, the requests (or handshakes) done, over how long, what failed. */
interface Outcome {
  rate: number;
  count: number;
  seconds: number;
  bad: number;
  tls?: string;
}

interface Side {
  name: string;
  url: string;
  pid: () => number;
}

/** One comparison: the same load on two servers (or two paths), with the ratio b / a's target. */
interface Pair {
  measure: string;
  protocol: '1.1' | '2';
  target: number | undefined;
  sides: [Side, Side];
  load: (url: string) => Promise<Outcome>;
}

interface Sample {
  pair: Pair;
  side: 0 | 1;
  outcome: Outcome;
  /** Server CPU seconds during the run. */
  cpu: number;
}

async function main(): Promise<void> {
  const cleanups: (() => Promise<void>)[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () => {
    stopping ??= (async () => {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    })();
    return stopping;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void stopAll().finally(() => process.exit(130)));
  let samples: Sample[];
  let tls: string;
  try {
    const bench = await startTlsBench(cleanups);
    tls = sameTls(bench);
    samples = await runRounds(pairs(bench), bench.caFile);
  } finally {
    await stopAll();
  }
  report(samples, tls);
}

/** What wrk's OpenSSL negotiates with each server over HTTPS/1.1: it must be the same for both. */
function sameTls(bench: TlsBench): string {
  const nginx = negotiatedTls(bench.nginx.h1Url);
  const relay = negotiatedTls(bench.tlsRelay.url);
  if (nginx !== relay) throw new Error(`not the same TLS: nginx ${nginx}, relay ${relay}`);
  return nginx;
}

/** The relay against nginx: measure, protocol, target ratio, object, load; run in this order. */
const VERSUS_NGINX: [string, Pair['protocol'], number | undefined, string, Pair['load']][] = [
  ['HTTPS/1.1, 1 MB segment', '1.1', 1.0, SEGMENT_PATH, wrkLoad],
  ['HTTPS/1.1, playlist (~700 B)', '1.1', 0.8, PLAYLIST_PATH, wrkLoad],
  ['HTTP/2, 1 MB segment', '2', 0.8, SEGMENT_PATH, h2Load],
  ['HTTP/2, playlist (~700 B)', '2', 0.8, PLAYLIST_PATH, h2Load],
  ['new TLS connections (h2, one playlist each), handshakes/s', '2', undefined, PLAYLIST_PATH, handshakeLoad],
];

/** The comparisons of one round: VERSUS_NGINX, then the token check on the plain relay. */
function pairs(b: TlsBench): Pair[] {
  const live = (stream: string, path: string) => `/live/${stream}/${path}`;
  const nginxPid = () => firstChild(b.nginx.pid);
  const tlsRelayPid = () => b.tlsRelay.child.pid!;
  const plainRelayPid = () => b.plainRelay.child.pid!;
  const versus = VERSUS_NGINX.map(([measure, protocol, target, path, load]): Pair => {
    const nginxBase = protocol === '2' ? b.nginx.h2Url : b.nginx.h1Url;
    const url = live(PUBLIC_STREAM, path);
    const sides: Pair['sides'] = [
      { name: 'nginx', url: nginxBase + url, pid: nginxPid },
      { name: 'relay', url: b.tlsRelay.url + url, pid: tlsRelayPid },
    ];
    return { measure, protocol, target, sides, load };
  });
  const privateUrl = `${b.plainRelay.url}/t/${b.token}${live(PRIVATE_STREAM, PLAYLIST_PATH)}`;
  const token: Pair = {
    measure: 'token check: private playlist with a token path vs public (relay, plain HTTP/1.1)',
    protocol: '1.1',
    target: 0.95,
    sides: [
      { name: 'public', url: b.plainRelay.url + live(PUBLIC_STREAM, PLAYLIST_PATH), pid: plainRelayPid },
      { name: 'private', url: privateUrl, pid: plainRelayPid },
    ],
    load: wrkLoad,
  };
  return [...versus, token];
}

async function wrkLoad(url: string): Promise<Outcome> {
  const r = await wrk(url, { core: LOAD_CORE, seconds, connections });
  const socketErrors = (r.errors.match(/\d+/g) ?? []).reduce((n, x) => n + Number(x), 0);
  return { rate: r.requestsPerSec, count: r.requestsPerSec * seconds, seconds, bad: r.non2xx + socketErrors };
}

async function h2Load(url: string): Promise<Outcome> {
  const r = await h2load(url, { core: LOAD_CORE, clients: h2Clients, streams: h2Streams, seconds });
  return {
    rate: r.requestsPerSec,
    count: r.succeeded,
    seconds: r.seconds,
    bad: r.failures + r.non2xx,
    tls: r.tls,
  };
}

/** Crowds of `handshakeClients` new connections, one request each, until `seconds` of them have run. */
async function handshakeLoad(url: string): Promise<Outcome> {
  const total: Outcome = { rate: 0, count: 0, seconds: 0, bad: 0 };
  for (let crowd = 0; crowd < 1000 && total.seconds < seconds; crowd++) {
    const r = await h2load(url, {
      core: LOAD_CORE,
      clients: handshakeClients,
      streams: 1,
      requests: handshakeClients,
    });
    total.count += r.succeeded;
    total.seconds += r.seconds;
    total.bad += r.failures + r.non2xx;
    total.tls = r.tls;
  }
  return { ...total, rate: total.count / total.seconds };
}

/** Every pair, both sides in turn, for `rounds` rounds; each run after a checked warm-up request. */
async function runRounds(all: Pair[], caFile: string): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const pair of all) {
      for (const side of [0, 1] as const) {
        const { name, url, pid } = pair.sides[side];
        const answer = await curlGet(url, pair.protocol, url.startsWith('https:') ? caFile : undefined);
        if (answer !== `${pair.protocol} 200`) throw new Error(`${name} ${url}: ${answer}`);
        const server = pid();
        const before = cpuSeconds(server);
        const outcome = await pair.load(url);
        const cpu = cpuSeconds(server) - before;
        const other = samples.at(-1);
        if (side === 1 && outcome.tls !== other?.outcome.tls)
          throw new Error(`not the same TLS: ${other?.outcome.tls} and ${outcome.tls} (${pair.measure})`);
        samples.push({ pair, side, outcome, cpu });
        const busy = ((100 * cpu) / outcome.seconds).toFixed(0);
        process.stdout.write(
          `round ${round} ${name.padEnd(7)} ${pair.measure}: ${outcome.rate.toFixed(0)}/s, core ${busy} %, ${outcome.bad} bad\n`,
        );
      }
    }
  }
  return samples;
}

/** Medians, ratios and the servers' CPU, printed and written to docs/benchmarks.md. */
function report(samples: Sample[], tls: string): void {
  const pairsRun = [...new Set(samples.map((s) => s.pair))];
  const rows = pairsRun.map((pair) => {
    const of = (side: 0 | 1) => samples.filter((s) => s.pair === pair && s.side === side);
    const [a, b] = [of(0), of(1)];
    const perCpu = (s: Sample) => s.outcome.count / s.cpu;
    const ratio = median(b.map((s, i) => s.outcome.rate / a[i]!.outcome.rate));
    const cpuRatio = median(b.map((s, i) => perCpu(s) / perCpu(a[i]!)));
    const busy = (xs: Sample[]) => `${median(xs.map((s) => (100 * s.cpu) / s.outcome.seconds)).toFixed(0)} %`;
    const verdict = pair.target === undefined ? '' : ratio >= pair.target ? ' (met)' : ' (**missed**)';
    return [
      pair.measure,
      `${pair.sides[0].name} ${median(a.map((s) => s.outcome.rate)).toFixed(0)}`,
      `${pair.sides[1].name} ${median(b.map((s) => s.outcome.rate)).toFixed(0)}`,
      `**${ratio.toFixed(2)}×**`,
      pair.target === undefined ? '—' : `≥ ${pair.target.toFixed(2)}×${verdict}`,
      `${median(a.map(perCpu)).toFixed(0)} / ${median(b.map(perCpu)).toFixed(0)} (${cpuRatio.toFixed(2)}×)`,
      `${busy(a)} / ${busy(b)}`,
      String(samples.filter((s) => s.pair === pair).reduce((n, s) => n + s.outcome.bad, 0)),
    ];
  });
  for (const r of rows) process.stdout.write(`${r.join('  ')}\n`);
  const h2Tls = [...new Set(samples.flatMap((s) => (s.outcome.tls ? [s.outcome.tls] : [])))];
  writeReport(rows, tls, h2Tls);
}

/** The report text: a template, whole on purpose. */
function writeReport(rows: string[][], tls: string, h2Tls: string[]): void {
  writeSection(
    'relay-tls',
    `## Relay over TLS against nginx: HTTPS/1.1, HTTP/2, handshakes, token checks

\`npm run bench:tls -- --seconds ${seconds} --rounds ${rounds} --connections ${connections} --h2-clients ${h2Clients} --h2-streams ${h2Streams} --handshake-clients ${handshakeClients}\`
(run on ${new Date().toISOString().slice(0, 10)}). One relay process (\`--tls-cert\`: HTTPS with ALPN h2 and
http/1.1 on one port) and one nginx worker (Debian's nginx 1.22, one \`listen … ssl\` port and one
\`listen … ssl http2\` port, \`ssl_session_cache shared\`, tickets on) pinned to core 0; the load generator
on core 1. Both serve the same certificate, an ECDSA P-256 leaf of the demo CA (common/demo-ca.ts),
and negotiate the same: \`${tls}\` with OpenSSL's client (wrk); h2load: ${h2Tls.map((t) => `\`${t}\``).join(', ') || '—'}.
All answers come from a warm cache (the relay's memory, nginx's page cache), over keep-alive connections.
- HTTPS/1.1: wrk \`-t1 -c${connections}\` for ${seconds} s a run.
- HTTP/2: h2load \`-t1 -c${h2Clients} -m${h2Streams} -D ${seconds}\`.
- New TLS connections: crowds of ${handshakeClients} new h2load clients (\`-c${handshakeClients} -n${handshakeClients} -m1\`: each a full
  TLS 1.3 handshake, no resumption, and one playlist request) until ${seconds} s of crowds have run; the rate
  is handshakes per second of h2load's time.
- Token check: the plain relay's playlist of a private stream fetched as \`/t/<token>/live/…\` against
  the same playlist of a public stream, wrk \`-t1 -c${connections}\`; target: at most 5 % cost.

Runs alternate the two sides of each row for ${rounds} rounds; rates are medians, ratios the median of each
round's ratio. "Per server CPU-second" divides the requests (or handshakes) a run completed by the CPU
time the server process used in it (/proc): it is the per-core rate when the server's core is not full.

${table(['measure', 'side A, /s', 'side B, /s', 'B / A', 'target', 'per server CPU-second, A / B (ratio)', 'server core busy, A / B', 'failed or non-2xx'], rows)}`,
  );
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

await main();
